"""Inputs of an evaluation, checked before TFMA runs: predictions tables in every format, their cleaning, and one
EvaluationInputError (a UserError) naming the file and the column for each problem. No TFMA here."""

import numpy as np
import pandas as pd
import pytest

from tfpretrain.errors import UserError
from tfpretrain.evaluation.fairness.groups import GroupSpec
from tfpretrain.evaluation.fairness.inputs import (
    EvaluationInputError,
    input_columns,
    prepare_predictions,
    read_table,
    used_groups,
)


@pytest.fixture
def frame():
    return pd.DataFrame({
        "label": [0, 1, 1, 0],
        "score": [0.1, 0.9, 0.4, 0.6],
        "w": [1.0, 2.0, 0.5, 1.5],
        "gender": ["female", None, "male", "female"],
        "flag": [True, False, True, True],
        "age_band": [1.0, np.nan, 3.0, 2.0],
        "text": ["she", "he", "", "they"],
    })


@pytest.mark.parametrize("name", ["p.csv", "p.tsv", "p.jsonl", "p.ndjson", "p.json", "p.parquet", "p.csv.gz"])
def test_read_table_formats(frame, tmp_path, name):
    path = tmp_path / name
    if ".csv" in name:
        frame.to_csv(path, index=False)
    elif name.endswith(".tsv"):
        frame.to_csv(path, index=False, sep="\t")
    elif name.endswith((".jsonl", ".ndjson", ".json")):
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path)
    read = read_table(path)
    assert list(read.columns) == list(frame.columns) and len(read) == len(frame)
    np.testing.assert_allclose(read["score"].to_numpy(), frame["score"].to_numpy())


def test_read_table_errors(tmp_path):
    with pytest.raises(EvaluationInputError, match=r"p\.xlsx: unknown table format"):
        read_table(tmp_path / "p.xlsx")
    with pytest.raises(EvaluationInputError, match=r"missing\.csv: file not found"):
        read_table(tmp_path / "missing.csv")
    (tmp_path / "broken.parquet").write_text("not parquet")
    with pytest.raises(EvaluationInputError, match=r"broken\.parquet: cannot read as parquet"):
        read_table(tmp_path / "broken.parquet")
    assert issubclass(EvaluationInputError, UserError)


def test_prepare_predictions_cleans_the_columns(frame):
    out = prepare_predictions(frame, "p.csv", "label", "score", "w", ["gender", "flag", "age_band"], None)
    assert list(out.columns) == ["label", "score", "w", "gender", "flag", "age_band"]
    assert out["label"].dtype == np.int64 and out["flag"].tolist() == [1, 0, 1, 1]
    assert out["gender"].tolist() == ["female", None, "male", "female"]
    assert str(out["age_band"].dtype) == "Int64" and out["age_band"].isna().tolist() == [False, True, False, False]
    fractional = frame.assign(label=[0.2, 0.7, 0.9, 0.0])
    kept = prepare_predictions(fractional, "p.csv", "label", "score", None, [], 0.5)
    assert kept["label"].tolist() == [0.2, 0.7, 0.9, 0.0]  # binarized inside TFMA's pipeline, like the features


@pytest.mark.parametrize(
    "change, args, match",
    [
        ({}, ("label", "prob", None, []), r"p\.csv: column\(s\) \['prob'\] not found"),
        ({}, ("label", "score", None, ["religion"]), r"\['religion'\] not found"),
        ({"label": [0, 2, 1, 0]}, ("label", "score", None, []), "label column 'label' must be 0/1, got 2.0"),
        ({"score": [0.1, 1.5, 0.2, 0.3]}, ("label", "score", None, []), r"must hold probabilities in \[0, 1\]"),
        ({"score": [0.1, "x", 0.2, 0.3]}, ("label", "score", None, []), "score column 'score' has non-numeric"),
        ({"score": [0.1, None, 0.2, 0.3]}, ("label", "score", None, []), "score column 'score' has 1 missing"),
        ({"w": [1.0, -1.0, 1.0, 1.0]}, ("label", "score", "w", []), "example weight column 'w' has negative"),
        ({"w": [1.0, np.inf, 1.0, 1.0]}, ("label", "score", "w", []), "example weight column 'w' has infinite"),
    ],
)
def test_prepare_predictions_errors_name_file_and_column(frame, change, args, match):
    with pytest.raises(EvaluationInputError, match=match):
        prepare_predictions(frame.assign(**change), "p.csv", *args, None)


def test_no_rows_is_an_error(frame):
    with pytest.raises(EvaluationInputError, match="p.csv: no rows"):
        prepare_predictions(frame.iloc[:0], "p.csv", "label", "score", None, [], None)


def test_columns_read_for_slicing():
    groups = (GroupSpec("text_gender", "derived", source="text", terms={"f": ["she"]}), GroupSpec("unused"))
    specs = [("gender",), ("text_gender",), ("gender", "text_gender")]
    chosen = used_groups(groups, specs)
    assert [g.column for g in chosen] == ["text_gender"]
    assert input_columns(chosen, specs) == ["gender", "text"]
    with pytest.raises(ValueError, match="two groups define the slice column 'a'"):
        used_groups([GroupSpec("a"), GroupSpec("a")], [("a",)])
