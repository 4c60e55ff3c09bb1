"""The arguments the training commands (`pretrain`, `finetune`) share: a config, a run directory, Keras progress
output and dotted overrides."""


def add_run_arguments(parser, config_help, overrides_example):
    parser.add_argument("--config", required=True, help=config_help)
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras progress output")
    parser.add_argument("overrides", nargs="*", help=f"dotted overrides, e.g. {overrides_example}")
