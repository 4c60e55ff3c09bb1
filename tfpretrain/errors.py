"""The project's user-facing errors: bad input a person can fix (a config key, a file, a column, a checkpoint).

Every such error subclasses `UserError`; the CLI prints its message as one line on stderr and exits 2, without a
traceback (`--debug` shows it). Anything else is a bug and keeps its traceback. Messages name the thing at fault:
`configs/x.yaml: trainer.train_steps: must be a positive integer`, `data.csv: column 'label' not found`.
"""


class UserError(ValueError):
    """Bad input, described in one line that names the file / key / column. A ValueError for older callers."""
