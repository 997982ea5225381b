"""The rows each stage writes are those harness.schema declares: the request row's fields in
order, and the generation -> annotation renames (backend -> model, model -> model_id)."""

from __future__ import annotations

from test_runner import BadRequest, FakeBackend, reqs, run

from annotations.vote import annotation_row
from harness.results import read_jsonl
from harness.schema import GENERATION_KEY, RENAMED, REQUEST_FIELDS, generation_identity


def test_request_rows_hold_the_key_then_the_declared_fields_then_the_carry(tmp_path):
    out = tmp_path / "o.jsonl"
    run(FakeBackend({"p1": [BadRequest("no such parameter")]}), reqs(2), out)
    rows = {r["id"]: r for r in read_jsonl(out)}
    assert rows[1]["error"] and rows[0]["response"] == "echo: p0"
    for row in rows.values():  # an answer and an error row alike
        assert list(row) == [*GENERATION_KEY, *REQUEST_FIELDS, "label", "task"]


def test_an_annotation_row_names_the_generation_fields_as_renamed():
    generation = {"id": 4, "sample": 1, "backend": "gpt-4o", "model": "gpt-4o-2024-08-06",
                  "input": "q?", "response": "an answer", "error": None}
    calls = [{"id": 4, "sample": 1, "eval": 0, "attempt": 0, "response": "not json",
              "error": None}]
    row = annotation_row(generation, calls, judge="j", judge_model="j-1", judged_text="an answer",
                         template="t.json")
    assert RENAMED == {"backend": "model", "model": "model_id"}
    for generation_field, annotation_field in RENAMED.items():
        assert row[annotation_field] == generation[generation_field]
    # a row written without `backend` names its model by `model` in both fields
    assert generation_identity({"model": "m-7b"}) == {"model": "m-7b", "model_id": "m-7b",
                                                     "model_version": None}


def test_the_optional_request_fields_follow_the_declared_ones_when_the_provider_gives_them():
    from backends.base import Completion
    from harness.schema import REQUEST_OPTIONAL_FIELDS, request_row

    answer = Completion(text="A", extras={"system_fingerprint": "fp"},
                        first_token_logprobs={"A": -0.1, "B": -2.4})
    row = request_row({"id": 1, "sample": 0}, {}, answer, backend="b", model="m",
                      input_text="q", params={})
    assert list(row) == [*GENERATION_KEY, *REQUEST_FIELDS, *REQUEST_OPTIONAL_FIELDS]
    bare = request_row({"id": 1, "sample": 0}, {}, Completion(text="A"), backend="b",
                       model="m", input_text="q", params={})
    assert list(bare) == [*GENERATION_KEY, *REQUEST_FIELDS]
