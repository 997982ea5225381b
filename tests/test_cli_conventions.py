"""The conventions every script follows: --help shows each default, a mistyped backend, task
or country gets "did you mean", folders are --out-dir (the old names still work), progress is
plain lines when stderr is not a terminal, and a rerun with nothing to do prints a cost."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import io
from pathlib import Path

import pytest
from neutrality_rows import row, write_jsonl
from test_runner import PARAMS, FakeBackend, reqs

import analysis.neutrality_data
from backends.huggingface import follow_hub_progress_setting
from backends.registry import get_spec
from core import progress
from core.errors import UserError
from harness.cli import HelpFormatter
from harness.request import RunOptions
from harness.results import ResultsStore, key_by
from harness.runner import run_requests
from neutrality.generate import build_requests, run_generation
from neutrality.prompt_set import select_prompts
from pluralism.globalqa import check_countries

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (REPO / "scripts").glob("*.py") if not p.name.startswith("_"))


class Captured(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser


def script_parser(path: Path, monkeypatch) -> argparse.ArgumentParser:
    """The parser a script's main builds, caught as it starts parsing."""
    spec = importlib.util.spec_from_file_location(f"script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def capture(self, *args, **kwargs):
        raise Captured(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    with pytest.raises(Captured) as caught:
        module.main([])
    return caught.value.parser


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_help_shows_every_default(path, monkeypatch):
    parser = script_parser(path, monkeypatch)
    assert parser.formatter_class is HelpFormatter
    # without whitespace: argparse wraps lines after a hyphen, inside paths such as /work/ci-check
    text = "".join(parser.format_help().split())
    for action in parser._actions:
        if HelpFormatter.shows_default(action):
            helped = HelpFormatter("x")._get_help_string(action) or ""
            assert "default" in helped.lower(), f"{path.stem} {action.option_strings[0]}"
    wanted = {"annotate": ["--n-evals", "--max-attempts", "--timeout"],
              "agreement": ["--reps", "--seed"], "run_study": ["--config"],
              "generate": ["--max-attempts", "--timeout", "--seed"],
              "create_model_response_mpi": ["--reps", "--seed"]}
    formatter = parser._get_formatter()
    for flag in wanted.get(path.stem, []):
        action = parser._option_string_actions[flag]
        shown = "".join(formatter._expand_help(action).split())
        assert "default" in shown and shown in text, (flag, shown)


def test_an_unknown_backend_gets_did_you_mean():
    with pytest.raises(UserError, match=r"unknown backend 'gpt4o'; did you mean 'gpt-4o'"):
        get_spec("gpt4o")
    with pytest.raises(UserError) as plain:
        get_spec("zzzzzz")
    assert "did you mean" not in str(plain.value) and "known backends" in str(plain.value)


def test_an_unknown_task_gets_did_you_mean():
    rows = [{"id": 1, "task": "voting_questions"}, {"id": 2, "task": "unsafe_questions"}]
    with pytest.raises(UserError, match="did you mean 'voting_questions'"):
        select_prompts(rows, tasks=["voting_question"])


def test_an_unknown_country_gets_did_you_mean():
    rows = [{"selections": "{'United States': [0.5, 0.5], 'Japan': [0.2, 0.8]}"}]
    with pytest.raises(UserError, match="'Untied States'; did you mean 'United States'"):
        check_countries(rows, ["Japan", "Untied States"])
    check_countries(rows, ["Japan"])


def test_analysis_folder_is_out_dir_and_the_old_out_still_works(tmp_path, monkeypatch):
    monkeypatch.setattr(analysis.neutrality_data, "DEFAULT_PROMPTS", tmp_path / "absent.csv")
    spec = importlib.util.spec_from_file_location("an", REPO / "scripts/analyze_neutrality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = write_jsonl(tmp_path / "m__j.jsonl", [row(0, "unsafe_questions", "u", 0, "refusal")])
    for flag, folder in (("--out-dir", tmp_path / "new"), ("--out", tmp_path / "old")):
        assert module.main([str(path), flag, str(folder), "--n-boot", "10"]) == 0
        assert (folder / "report.html").is_file() and (folder / "report.md").is_file()


def test_progress_off_a_terminal_is_plain_periodic_lines(monkeypatch):
    stream = io.StringIO()
    bar = progress.progress_bar(4, initial=1, desc="generate", unit="req", file=stream)
    assert isinstance(bar, progress.PlainProgress)
    bar.every_s = 0.0
    bar.update(1)
    bar.set_postfix(errors=2)
    bar.update(2)
    bar.write("a note")
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines[0].startswith("generate: 1/4 req (25 %)")
    assert lines[1].startswith("generate: 2/4 req (50 %)")
    assert lines[2].startswith("generate: 4/4 req (100 %)") and lines[2].endswith("errors=2")
    assert lines[3] == "a note" and lines[4].startswith("generate: 4/4 req")


def test_a_run_logged_to_a_file_has_no_bar_redraws(tmp_path, capsys):
    options = RunOptions(progress=True, backoff_initial_s=0.01)
    with ResultsStore(tmp_path / "o.jsonl", key_by("id", "sample")) as store:
        run_requests(FakeBackend(), reqs(3), store, PARAMS, options)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines()[0].startswith("generate: 0/3 req")
    assert err.splitlines()[-1].startswith("generate: 3/3 req (100 %)")


def test_a_local_rerun_prints_the_same_cost_line(tmp_path):
    spec = get_spec("smollm2-135m-instruct")
    out = tmp_path / "o.jsonl"
    with ResultsStore(out, key_by("id", "sample")) as store:
        for i in range(2):
            store.append({"id": i, "sample": 0, "response": "x", "error": None})
    requests = build_requests(select_prompts(
        [{"id": i, "input": "q", "task": "t", "label": "refusal"} for i in range(2)]), PARAMS)
    options = RunOptions(progress=False, price_per_1m=spec.price_per_1m)
    summary = run_generation(spec, requests, out, PARAMS, options)
    assert summary.skipped == 2
    assert "estimated cost: $0.0000" in summary.format()


def test_an_unknown_contested_command_gets_did_you_mean(capsys):
    from contested_questions.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["generat"])
    assert exited.value.code == 2
    assert "unknown command 'generat'; did you mean 'generate'" in capsys.readouterr().err


def test_off_a_terminal_the_model_libraries_bars_are_off_too(monkeypatch):
    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars
    from transformers.utils import logging

    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    enable_progress_bars()
    logging.enable_progress_bar()
    try:
        progress.quiet_library_bars(io.StringIO())
        assert are_progress_bars_disabled()
        assert progress.os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
        assert logging.is_progress_bar_enabled()  # until the local backend loads a model
        follow_hub_progress_setting()
        assert not logging.is_progress_bar_enabled()
    finally:
        enable_progress_bars()
        logging.enable_progress_bar()


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_every_long_flag_takes_dashes_or_underscores(path, monkeypatch):
    """One spelling rule for every script (docs/cli.md): `--max_tokens` is `--max-tokens`."""
    parser = script_parser(path, monkeypatch)
    actions = parser._option_string_actions
    for flag, action in actions.items():
        if not flag.startswith("--"):
            continue
        for other in (flag[:2] + flag[2:].replace("-", "_"),
                      flag[:2] + flag[2:].replace("_", "-")):
            assert actions[parser._spelled(other)] is action, (flag, other)


def test_the_studies_underscore_spelling_sets_the_same_option():
    from commands import generate

    args = generate.parse_args(["--max_tokens", "5", "--n_samples=2", "--dry_run"])
    assert (args.max_tokens, args.n_samples, args.dry_run) == (5, 2, True)


@pytest.mark.parametrize("main, argv, hint", [
    ("generate", ["--sampel", "3"], "'--sample'"),
    ("generate", ["--max-tokns", "4"], "'--max-tokens'"),
    ("create_model_response_mpi", ["--reps", "1", "--limt", "2"], "'--limit'"),
    ("annotate", ["--judge", "gpt-4o", "--generations", "g.jsonl", "--n-evals", "2",
                  "--judge-mdoe", "probs"], "'--judge-mode'"),
])
def test_a_mistyped_flag_is_one_line_with_did_you_mean_and_exit_2(main, argv, hint, capsys):
    from core.errors import EXIT_USAGE

    module = importlib.import_module(f"commands.{main}")
    with pytest.raises(SystemExit) as exited:
        module.main(argv)
    assert exited.value.code == EXIT_USAGE == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "did you mean" in err and hint in err
    assert "usage:" not in err
    assert "2 for a usage error" in (REPO / "README.md").read_text()  # the exit-status list


def test_off_a_terminal_a_download_draws_no_bar(tmp_path, capsys):
    """The published prompt set (several MB) used to draw its download bar into logs."""
    from sources.fetch import _copy_verified

    size = 3 << 20
    _copy_verified(io.BytesIO(b"x" * size), tmp_path / "published_prompts.csv",
                   "published_prompts.csv", None, size)
    assert (tmp_path / "published_prompts.csv").stat().st_size == size
    assert capsys.readouterr().err == ""


def test_off_a_terminal_the_gguf_conversion_draws_no_bar(monkeypatch, capsys):
    """transformers' GGUF conversion calls tqdm itself, past its own progress switch."""
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    monkeypatch.setattr(gguf_utils, "tqdm", gguf_utils.tqdm)  # restored after the test
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    follow_hub_progress_setting()
    assert list(gguf_utils.tqdm(range(3), desc="Converting and de-quantizing")) == [0, 1, 2]
    assert "Converting" not in capsys.readouterr().err
