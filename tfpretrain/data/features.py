"""Canonical feature keys shared by the data pipeline and the models. Defined here once; import, never retype."""

TOKEN_IDS = "token_ids"
SEGMENT_IDS = "segment_ids"
PADDING_MASK = "padding_mask"
MASKED_LM_POSITIONS = "masked_lm_positions"
MASKED_LM_IDS = "masked_lm_ids"
MASKED_LM_WEIGHTS = "masked_lm_weights"
NEXT_SENTENCE_LABELS = "next_sentence_labels"
LABELS = "labels"
SAMPLE_WEIGHT = "sample_weight"

BERT_INPUTS = (TOKEN_IDS, SEGMENT_IDS, PADDING_MASK)
GPT2_INPUTS = (TOKEN_IDS, PADDING_MASK)

# Tasks a corpus is prepared for; the same names as the model config's `family`.
TASK_BERT = "bert"
TASK_GPT2 = "gpt2"
TASKS = (TASK_BERT, TASK_GPT2)


def record_spec(task, sequence_length):
    """The tf.Example schema of a prepared shard: feature key -> (shape, stored as int64).

    BERT records hold unmasked, right-padded NSP pairs (masking is dynamic, at read time); GPT-2 records hold
    packed windows with no padding, so their padding_mask is all ones and is not stored.
    """
    if task == TASK_BERT:
        return {
            TOKEN_IDS: [sequence_length],
            SEGMENT_IDS: [sequence_length],
            PADDING_MASK: [sequence_length],
            NEXT_SENTENCE_LABELS: [1],
        }
    if task == TASK_GPT2:
        return {TOKEN_IDS: [sequence_length]}
    raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
