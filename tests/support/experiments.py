"""A tiny pretraining experiment (as a mapping) over a prepared corpus, for trainer-level tests."""


def tiny_experiment(task, data_dir, **trainer):
    return {
        "model": {"preset": f"{task}_tiny", "vocabulary_size": "data", "max_sequence_length": 32, "dropout": 0.1},
        "data": {"train": str(data_dir), "max_predictions_per_seq": 5},
        "trainer": {
            "strategy": "cpu",
            "global_batch_size": 8,
            "train_steps": 30,
            "log_every": 10,
            "checkpoint_every": 10,
            "jit_compile": False,
            "optimizer": {"learning_rate": 3e-3, "warmup_steps": 3},
            **trainer,
        },
    }
