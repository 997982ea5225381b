"""The Python API (contested_questions) on a tiny case: generate, annotate and collect against
the fake provider with the real SDK clients, each result read back with load_results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import contested_questions as cq
from annotations.parse import CATEGORIES
from core.errors import EXIT_ROWS_FAILED, UserError
from tests.fakes.prompt_files import write_prompts_csv
from tests.fakes.server import FakeServer

FAST = {"rpm": 60000, "tpm": 1e9, "no_progress": True}


def judge_json(final: int) -> str:
    answers = ", ".join(f'"Answer {k}": "{"yes" if i + 1 == final else "no"}"'
                        for i, k in enumerate("ABCDEF"))
    return "{" + answers + f', "Final Answer": {final}' + "}"


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    return write_prompts_csv(tmp_path / "prompts.csv", 3)


def test_generate_then_annotate_from_python(fake: FakeServer, prompts, tmp_path):
    fake.state.reply = lambda provider, prompt: (
        f"My answer to {prompt}" if prompt.startswith("Question number") else judge_json(4))
    base = fake.url + "/v1"

    gen = cq.generate("gpt-4o", base_url=base, prompts=prompts, out=tmp_path / "gen.jsonl",
                      cache=tmp_path / "cache.sqlite", **FAST)
    assert gen.out == tmp_path / "gen.jsonl" and gen.complete
    frame = gen.load()
    assert sorted(frame["id"]) == [0, 1, 2]
    assert set(frame["response"]) == {f"My answer to Question number {i}?" for i in range(3)}

    judged = cq.annotate("gpt-4o", gen.out, base_url=base, out=tmp_path / "ann.jsonl",
                         cache=tmp_path / "cache.sqlite", **FAST)
    assert judged.complete
    labels = cq.load_results(judged.out)
    assert sorted(labels["id"]) == [0, 1, 2]
    assert set(labels["parse_status"]) == {"ok"}
    assert set(labels["final_category"]) == {CATEGORIES[3]}  # "Final Answer": 4, from 1
    assert list(labels[f"votes.{CATEGORIES[3]}"]) == [1, 1, 1]  # one eval each, as a column

    sent = len(fake.state.requests)
    again = cq.generate("gpt-4o", base_url=base, prompts=prompts, out=gen.out, no_cache=True,
                        **FAST)
    assert again.complete and len(again.load()) == 3  # a rerun resumes: nothing repeated
    assert len(fake.state.requests) == sent


def test_collect_mpi_from_python(fake: FakeServer, tmp_path, mirror_dir):
    fake.state.logprobs = {"A": -0.1, "B": -2.5, "C": -4.0, "D": -5.0, "E": -6.0}
    run = cq.collect("mpi", "gpt-4o-mini", base_url=fake.url + "/v1", limit=2, reps=2,
                     data_dir=mirror_dir / "pluralism" / "mpi_questions.tsv",
                     save_dir=tmp_path / "mpi", cache=tmp_path / "cache.sqlite", **FAST)
    assert run.out == tmp_path / "mpi" / "gpt-4o-mini.jsonl" and run.complete
    frame = run.load()
    assert len(frame) == 2
    for probs in frame["probs"].map(json.loads):
        assert len(probs) == 5 and sum(probs) == pytest.approx(1.0)
        assert probs[0] > probs[1]


def test_default_output_is_the_commands_and_a_dry_run_writes_nothing(
        fake: FakeServer, prompts, tmp_path, monkeypatch):
    monkeypatch.setattr("neutrality.generate.GENERATIONS_DIR", tmp_path / "generations")
    run = cq.generate("gpt-4o", base_url=fake.url + "/v1", prompts=prompts, dry_run=True)
    assert run.out == tmp_path / "generations" / "gpt-4o.jsonl"
    assert run.complete and not run.out.exists()
    assert not fake.state.requests


def test_an_unknown_option_or_dataset_is_one_clear_error(prompts, tmp_path):
    with pytest.raises(UserError, match="contested generate --help"):
        cq.generate("gpt-4o", prompts=prompts, out=tmp_path / "g.jsonl", max_tokenz=5)
    with pytest.raises(UserError, match="'mpi' or 'globalqa'"):
        cq.collect("opinionqa")


def test_a_run_with_failed_rows_says_so_and_a_retry_completes_it(fake: FakeServer, prompts,
                                                                   tmp_path):
    fake.state.push("bad_request", message="Unsupported parameter: 'temperature'",
                    code="unsupported_parameter")
    out = tmp_path / "gen.jsonl"
    first = cq.generate("gpt-4o", base_url=fake.url + "/v1", prompts=prompts, out=out,
                        no_cache=True, concurrency=1, **FAST)
    assert first.status == EXIT_ROWS_FAILED and not first.complete
    frame = first.load()
    assert frame["error"].notna().sum() == 1 and len(frame) == 3
    retried = cq.generate("gpt-4o", base_url=fake.url + "/v1", prompts=prompts, out=out,
                          no_cache=True, retry_errors=True, **FAST)
    assert retried.complete
    assert load_done(retried) == 3


def load_done(run: cq.Run) -> int:
    """Rows of the latest attempt per id that hold no error."""
    frame = run.load().drop_duplicates("id", keep="last")
    return int(frame["error"].isna().sum())


@pytest.mark.parametrize("option", ["out_dir", "save_dir", "save-dir", "out"])
def test_collect_names_and_loads_the_file_it_wrote_for_every_output_spelling(
        fake: FakeServer, tmp_path, mirror_dir, monkeypatch, option):
    """An earlier run in the default folder must not be what a run elsewhere loads."""
    monkeypatch.setattr("contested_questions.api.DISTRIBUTIONS_DIR", tmp_path / "default")
    fake.state.logprobs = {"A": -0.1, "B": -2.5, "C": -4.0, "D": -5.0, "E": -6.0}
    common = {"base_url": fake.url + "/v1", "cache": tmp_path / "cache.sqlite",
              "data_dir": mirror_dir / "pluralism" / "mpi_questions.tsv", **FAST}
    first = cq.collect("mpi", "gpt-4o-mini", limit=1, reps=1, **common)
    assert first.out == tmp_path / "default" / "mpi" / "gpt-4o-mini.jsonl"
    assert len(first.load()) == 1
    second = cq.collect("mpi", "gpt-4o-mini", limit=3, reps=2,
                        **{option: tmp_path / "nb" / "mpi_od"}, **common)
    assert second.out == tmp_path / "nb" / "mpi_od" / "gpt-4o-mini.jsonl" and second.complete
    assert len(second.load()) == 3
    assert len(first.load()) == 1  # the default folder's file is untouched


@pytest.mark.parametrize("given", [True, False])
def test_generate_and_annotate_name_the_file_they_wrote(fake: FakeServer, prompts, tmp_path,
                                                        monkeypatch, given):
    monkeypatch.setattr("neutrality.generate.GENERATIONS_DIR", tmp_path / "generations")
    monkeypatch.setattr("annotations.run.ANNOTATIONS_DIR", tmp_path / "annotations")
    fake.state.reply = lambda provider, prompt: (
        f"My answer to {prompt}" if prompt.startswith("Question number") else judge_json(2))
    common = {"base_url": fake.url + "/v1", "cache": tmp_path / "cache.sqlite", **FAST}
    gen = cq.generate("gpt-4o", prompts=prompts, limit=2,
                      **({"out": tmp_path / "g" / "gen.jsonl"} if given else {}), **common)
    assert gen.out == (tmp_path / "g" / "gen.jsonl" if given
                       else tmp_path / "generations" / "gpt-4o.jsonl")
    assert sorted(gen.load()["id"]) == [0, 1]
    judged = cq.annotate("gpt-4o", gen.out,
                         **({"out": tmp_path / "a" / "ann.jsonl"} if given else {}), **common)
    assert judged.out == (tmp_path / "a" / "ann.jsonl" if given
                          else tmp_path / "annotations" / "gpt-4o__gpt-4o.jsonl")
    assert sorted(judged.load()["id"]) == [0, 1]


def test_overton_answers_and_judge_name_and_load_the_file_they_wrote(fake: FakeServer,
                                                                       tmp_path, monkeypatch):
    """Each Overton call, by default and with out=, names the file it wrote; an earlier run
    in the default folder is not what a run elsewhere loads."""
    from tests.overton_helpers import write_overton_csv

    monkeypatch.setattr("pluralism.overton.OVERTON_DIR", tmp_path / "overton")
    monkeypatch.setattr("annotations.coverage_run.COVERAGE_DIR", tmp_path / "coverage")
    fake.state.reply = lambda provider, prompt: (  # every view presented, no refusal
        '{"answer": "yes"}' if 'View: "' in prompt else '{"answer": "no"}'
        if 'Answer: "' in prompt else "Some say yes, some say no.")
    common = {"base_url": fake.url + "/v1", "cache": tmp_path / "cache.sqlite", **FAST}
    data = write_overton_csv(tmp_path / "global_opinions.csv")
    first = cq.overton_responses("gpt-4o-mini", data_dir=data, limit=1, **common)
    assert first.out == tmp_path / "overton" / "gpt-4o-mini.jsonl" and first.complete
    second = cq.overton_responses("gpt-4o-mini", data_dir=data, limit=2,
                                  out=tmp_path / "nb" / "answers.jsonl", **common)
    assert second.out == tmp_path / "nb" / "answers.jsonl" and second.complete
    assert len(second.load()) == 2 and len(first.load()) == 1

    judged = cq.annotate_overton("gpt-4o", first.out, **common)
    assert judged.out == tmp_path / "coverage" / "gpt-4o-mini__gpt-4o.jsonl"
    assert judged.complete and list(judged.load()["status"]) == ["ok"]
    elsewhere = cq.annotate_overton("gpt-4o", second.out, judge_mode="json",
                                    out=tmp_path / "nb" / "coverage.jsonl", **common)
    assert elsewhere.out == tmp_path / "nb" / "coverage.jsonl" and elsewhere.complete
    assert len(elsewhere.load()) == 2 and len(judged.load()) == 1


def test_collect_takes_the_studys_model_name_and_model_as_the_command_does(
        fake: FakeServer, tmp_path, mirror_dir):
    """Issue 23 §1 in the Python API: model_name= is the model to ask (here a registry API
    model, as the study's GPT-3 scripts name it) and model= the label naming the output; no
    backend= needed, as `--model-name X --model LABEL` on the command line."""
    fake.state.logprobs = {"A": -0.1, "B": -2.5, "C": -4.0, "D": -5.0, "E": -6.0}
    run = cq.collect("mpi", model_name="gpt-4o-mini", model="run_a", base_url=fake.url + "/v1",
                     limit=1, reps=1, data_dir=mirror_dir / "pluralism" / "mpi_questions.tsv",
                     out_dir=tmp_path / "mpi", cache=tmp_path / "cache.sqlite", **FAST)
    assert run.out == tmp_path / "mpi" / "run_a.jsonl" and run.complete
    frame = run.load()
    assert list(frame["label"]) == ["run_a"] and list(frame["backend"]) == ["gpt-4o-mini"]
