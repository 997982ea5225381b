"""Exporting result JSONL to CSV and Parquet."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core.errors import UserError
from harness.export import export_results


def write_rows(path):
    rows = [
        {"id": 1, "sample": 0, "response": "Yes, \"quoted\",\nmultiline", "params":
         {"temperature": 0.0, "max_tokens": 8}, "flags": ["a", "b"], "error": None},
        {"id": 2, "sample": 0, "response": "No", "params": {"temperature": 0.5, "max_tokens": 8},
         "flags": [], "error": "Timeout: slow"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_csv_round_trips_text_and_flattens_params(tmp_path):
    dest, n = export_results(write_rows(tmp_path / "r.jsonl"))
    assert dest == tmp_path / "r.csv" and n == 2
    df = pd.read_csv(dest)
    assert df.loc[0, "response"] == "Yes, \"quoted\",\nmultiline"
    assert list(df["params.temperature"]) == [0.0, 0.5]
    assert json.loads(df.loc[0, "flags"]) == ["a", "b"]
    assert pd.isna(df.loc[0, "error"]) and df.loc[1, "error"] == "Timeout: slow"


def test_parquet_from_suffix(tmp_path):
    dest, _ = export_results(write_rows(tmp_path / "r.jsonl"), tmp_path / "out.parquet")
    df = pd.read_parquet(dest)
    assert list(df["id"]) == [1, 2] and list(df["params.max_tokens"]) == [8, 8]


def test_unknown_format_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="--format csv"):
        export_results(write_rows(tmp_path / "r.jsonl"), tmp_path / "out.xlsx")


#: answers a spreadsheet would run as formulas, and one that only looks quoted already
FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd",
            "'=already quoted", "plain", "a = b"]


def formula_rows(path):
    rows = [{"id": i, "sample": 0, "response": text, "score": -1.5}
            for i, text in enumerate(FORMULAS)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_csv_cells_a_spreadsheet_would_run_get_an_apostrophe(tmp_path):
    dest, _ = export_results(formula_rows(tmp_path / "r.jsonl"), tmp_path / "out.csv")
    cells = pd.read_csv(dest)["response"].tolist()
    assert cells == ["'" + t for t in FORMULAS[:7]] + ["plain", "a = b"]
    assert pd.read_csv(dest)["score"].tolist() == [-1.5] * len(FORMULAS)  # numbers as they are


def test_parquet_keeps_formula_text_raw_and_load_results_restores_the_csv(tmp_path):
    from contested_questions.api import load_results

    src = formula_rows(tmp_path / "r.jsonl")
    parquet, _ = export_results(src, tmp_path / "out.parquet")
    assert pd.read_parquet(parquet)["response"].tolist() == FORMULAS
    csv, _ = export_results(src, tmp_path / "out.csv")
    assert load_results(csv)["response"].tolist() == FORMULAS
