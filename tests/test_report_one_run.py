"""The reports take one run per file: an annotation file whose answers of one model were made
with other settings, rows that answer another prompt text than the prompt set counted
against, or a distribution file holding items of two collection runs, are refused in one
line naming what differs."""

from __future__ import annotations

import csv

import pytest

from analysis.distribution_inputs import load_distribution_files
from analysis.neutrality_data import load_annotations
from core.errors import UserError
from tests.neutrality_rows import row, write_jsonl
from tests.script_entry import script_main


def generation_row(id_: int, max_tokens: int, *, text: str | None = None) -> dict:
    r = row(id_, "unsafe_questions", f"q{id_}", 0, "refusal")
    r.update(model_id="m1-id", input=text or f"Question {id_}?",
             generation_params={"temperature": 0.0, "max_tokens": max_tokens, "seed": id_,
                                "top_p": None, "top_logprobs": 0})
    return r


def test_an_annotation_file_mixing_generation_settings_is_refused(tmp_path) -> None:
    path = write_jsonl(tmp_path / "ann.jsonl", [generation_row(0, 64), generation_row(1, 64),
                                                 generation_row(2, 7)])
    with pytest.raises(UserError) as info:
        load_annotations([path])
    assert "mixes answers of m1 made with other settings (max_tokens 64 and 7)" \
        in str(info.value) and "\n" not in str(info.value)
    # one setting per model, a sample's own seed included: read as before
    ok = write_jsonl(tmp_path / "ok.jsonl", [generation_row(0, 64), generation_row(1, 64)])
    assert len(load_annotations([ok])) == 2


def test_rows_answering_another_prompt_text_than_the_prompt_set_are_refused(tmp_path) -> None:
    ann = write_jsonl(tmp_path / "ann.jsonl", [generation_row(i, 64) for i in range(3)])
    prompts = tmp_path / "prompts.csv"
    with prompts.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["id", "input", "label", "task", "original_input",
                                "format_number"])
        w.writeheader()
        for i in range(3):
            w.writerow({"id": i, "input": "Rebuilt question?" if i == 1 else f"Question {i}?",
                        "label": "refusal", "task": "unsafe_questions",
                        "original_input": f"q{i}", "format_number": 0})
    main = script_main("analyze_neutrality")
    with pytest.raises(UserError, match=r"1 row\(s\) answer another prompt text .*first: "
                                        r"model m1, id 1"):
        main([str(ann), "--prompts", str(prompts), "--out-dir", str(tmp_path / "r"),
              "--n-boot", "5"])


def item_row(item_id: int, run_id: str, reps: int) -> dict:
    return {"dataset": "globalqa", "model": "m", "backend": "b", "item_id": item_id,
            "probs": [0.5, 0.5], "options": ["Yes", "No"],
            "params": {"run_id": run_id, "reps": reps, "seed": 0}}


def test_a_distribution_file_mixing_two_collection_runs_is_refused(tmp_path) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", [item_row(0, "aaa", 5), item_row(1, "bbb", 3)])
    with pytest.raises(UserError, match=r"mixes items of m from two collection runs "
                                        r"\(reps 5 and 3\)"):
        load_distribution_files([path], "globalqa")
    ok = write_jsonl(tmp_path / "ok.jsonl", [item_row(0, "aaa", 5), item_row(1, "aaa", 5)])
    assert len(load_distribution_files([ok], "globalqa")[0]) == 2
