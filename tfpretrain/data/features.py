"""Canonical feature keys shared by the data pipeline and the models. Defined here once; import, never retype.

Which keys a family's prepared records hold is its corpus format's record_spec (tfpretrain.data.formats).
"""

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
