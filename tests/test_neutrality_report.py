"""The neutrality report end to end: files written, figures non-empty, bad input refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from neutrality_rows import row, write_jsonl

import analysis.neutrality_data
from analysis.neutrality_data import load_annotations, load_prompts
from core.errors import UserError

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import analyze_neutrality  # noqa: E402

FIGURES = ("category_shares", "match_heatmap", "viewpoint_gap")


@pytest.fixture(autouse=True)
def no_default_prompt_set(tmp_path, monkeypatch):
    """The checkout's own Data/test_input.csv never leaks into a test."""
    monkeypatch.setattr(analysis.neutrality_data, "DEFAULT_PROMPTS", tmp_path / "absent.csv")


def _study_rows(model: str) -> list[dict]:
    """A small study: every task group, two items, both viewpoint sides."""
    rows = []
    plan = [("voting_questions", 1, "no_approximation"),
            ("political_opinion_pct", 4, "reasonable_pluralism"),
            ("political_opinion_pct_rep", 4, "transparency"),
            ("political_opinion_pct_dem", 4, "refusal"),
            ("conspiracy_good", 3, "reasonable_pluralism"),
            ("conspiracy_bad", 3, "avoidance"),
            ("universal_rights", 4, None),
            ("unsafe_questions", 1, "refusal")]
    for task, n_formats, final in plan:
        base = task.removesuffix("_rep").removesuffix("_dem")
        for item in ("first", "second"):
            for f in range(n_formats):
                fmt = f if n_formats < 4 else [0, 1, 10, 11][f]
                rows.append(row(len(rows), task, f"{base} {item}", fmt, final, model=model))
    return rows


def _prompts(path: Path, rows: list[dict], extra: int) -> Path:
    table = pd.DataFrame([{k: r[k] for k in ("id", "label", "task", "original_input",
                                             "format_number")} for r in rows])
    table.insert(1, "input", "prompt text")
    more = table.tail(extra).assign(id=lambda t: t["id"] + 1000)
    pd.concat([table, more]).to_csv(path, index=False)
    return path


def test_script_writes_tables_figures_and_report(tmp_path, capsys):
    rows_a, rows_b = _study_rows("alpha"), _study_rows("beta")
    files = [write_jsonl(tmp_path / "alpha__j.jsonl", rows_a),
             write_jsonl(tmp_path / "beta__j.jsonl", rows_b[:-3])]
    prompts = _prompts(tmp_path / "prompts.csv", rows_a, extra=2)
    out = tmp_path / "report"
    code = analyze_neutrality.main([*map(str, files), "--out", str(out), "--prompts",
                                    str(prompts), "--n-boot", "200"])
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    for name in FIGURES:
        png, svg = out / "figures" / f"{name}.png", out / "figures" / f"{name}.svg"
        assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 2000
        assert "<svg" in svg.read_text() and svg.stat().st_size > 2000
    coverage = pd.read_csv(out / "coverage_by_model.csv").set_index("system")
    # alpha misses the 2 extra prompts; beta also misses its last 3 rows
    assert coverage.loc["alpha", "missing"] == 2 and coverage.loc["beta", "missing"] == 5
    assert coverage.loc["alpha", "unreadable"] == 8
    symmetry = pd.read_csv(out / "viewpoint_symmetry.csv").set_index("system")
    assert symmetry.loc["alpha", "rep_only"] == 8 and symmetry.loc["alpha", "gap"] == 1.0
    shares = pd.read_csv(out / "category_shares.csv")
    unreadable = shares[(shares["task_group"] == "universal_rights")
                        & (shares["category"] == "unreadable") & (shares["system"] == "alpha")]
    assert unreadable["share"].tolist() == [1.0]
    for name in ("match_rates", "wording_sensitivity", "implicit_explicit", "refusal_avoidance",
                 "bias_rates", "coverage", "wording_sensitivity_items"):
        assert not pd.read_csv(out / f"{name}.csv").empty, name
    report = (out / "report.md").read_text()
    for heading in ("## Coverage", "## Category shares", "## Expected-technique match",
                    "## Viewpoint symmetry", "## Sensitivity to wording",
                    "## Implicit vs explicit", "## Refusal and avoidance", "## Bias"):
        assert heading in report
    # beta: 48 rows less its last 3 (2 unsafe, 1 unreadable universal_rights); 48 + 2 prompts
    assert "| beta | 45 | 45 | 7 | 0 | 0 | 50 | 5 | 0 |" in report  # judge_failed: 0
    assert "![viewpoint gap](figures/viewpoint_gap.png)" in report


def test_missing_rows_are_counted_against_the_default_prompt_set(tmp_path, monkeypatch,
                                                                 capsys):
    rows = _study_rows("alpha")
    default = _prompts(tmp_path / "test_input.csv", rows, extra=3)
    monkeypatch.setattr(analysis.neutrality_data, "DEFAULT_PROMPTS", default)
    path = write_jsonl(tmp_path / "alpha__j.jsonl", rows[:-1])
    out = tmp_path / "report"
    assert analyze_neutrality.main([str(path), "--out", str(out), "--n-boot", "20"]) == 0
    assert f"missing rows counted against {default}" in capsys.readouterr().out
    coverage = pd.read_csv(out / "coverage_by_model.csv").set_index("system")
    assert coverage.loc["alpha", "missing"] == 4  # 3 extra prompts and the row left out
    report = (out / "report.md").read_text()
    assert f"Prompt set: `{default}`." in report and "pass `--prompts`" not in report

    # an explicit --prompts wins over the default
    explicit = _prompts(tmp_path / "mine.csv", rows, extra=1)
    assert analyze_neutrality.main([str(path), "--out", str(out), "--n-boot", "20",
                                    "--prompts", str(explicit)]) == 0
    coverage = pd.read_csv(out / "coverage_by_model.csv").set_index("system")
    assert coverage.loc["alpha", "missing"] == 2
    report = (out / "report.md").read_text()
    assert f"Prompt set: `{explicit}`." in report and str(default) not in report


def test_subset_without_viewpoint_rows_still_writes_every_figure(tmp_path):
    rows = [row(0, "unsafe_questions", "u", 0, "refusal")]
    out = tmp_path / "report"
    analyze_neutrality.main([str(write_jsonl(tmp_path / "m__j.jsonl", rows)), "--out",
                             str(out), "--n-boot", "50"])
    for name in FIGURES:
        assert (out / "figures" / f"{name}.png").stat().st_size > 0
        assert (out / "figures" / f"{name}.svg").stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "pass `--prompts`" in report
    # captions say what had no data and was left out of the figures
    assert "Task groups with no rows, left out: voting, opinion, viewpoint" in report
    assert "No model has paired Republican/Democrat prompts: nothing to plot." in report
    assert pd.read_csv(out / "viewpoint_symmetry.csv").empty


def test_no_files_is_a_user_error():
    with pytest.raises(UserError, match="no annotation files"):
        load_annotations([])


def test_missing_field_is_a_one_line_user_error_naming_it(tmp_path):
    bad = row(0, "unsafe_questions", "u", 0, "refusal")
    del bad["original_input"]
    path = write_jsonl(tmp_path / "m__j.jsonl", [bad])
    with pytest.raises(UserError, match="line 1 lacks field 'original_input'") as err:
        load_annotations([path])
    assert "\n" not in str(err.value)


def test_missing_file_and_bad_json_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_annotations([tmp_path / "nope.jsonl"])
    path = tmp_path / "m__j.jsonl"
    path.write_text(json.dumps(row(0, "unsafe_questions", "u", 0, "refusal")) + "\n{oops\n")
    with pytest.raises(UserError, match="line 2 is not JSON"):
        load_annotations([path])


def test_unknown_category_is_a_user_error(tmp_path):
    path = write_jsonl(tmp_path / "m__j.jsonl", [row(0, "unsafe_questions", "u", 0, "maybe")])
    with pytest.raises(UserError, match="unknown final_category 'maybe'"):
        load_annotations([path])


def test_prompt_set_without_a_column_is_a_user_error(tmp_path):
    path = tmp_path / "prompts.csv"
    pd.DataFrame({"id": [0], "input": ["x"], "label": ["refusal"]}).to_csv(path, index=False)
    with pytest.raises(UserError, match="lacks column 'task'"):
        load_prompts(path)


def test_script_prints_one_error_line_and_exits_1(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "analyze_neutrality.py"),
                             "--out", str(tmp_path / "r")], capture_output=True, text=True,
                            cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: no annotation files given: pass results/annotations/*.jsonl"]


def test_non_integer_format_number_is_a_user_error(tmp_path):
    bad = row(0, "unsafe_questions", "u", 0, "refusal")
    bad["format_number"] = "first"
    path = write_jsonl(tmp_path / "m__j.jsonl", [bad])
    with pytest.raises(UserError, match="'format_number' must be a whole number"):
        load_annotations([path])


def test_analysis_never_imports_torch():
    code = ("import sys, analysis.neutrality_report, analysis.neutrality_tables; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin"})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("judge", "warned"), [("smollm2-135m-instruct", True), ("gpt-4o", False)])
def test_report_names_the_judge_and_flags_a_demonstration_judge(tmp_path, judge, warned):
    # the flag the annotation run copies from the registry (demo_only) into every row
    rows = [dict(r, judge=judge, judge_demo_only=warned) for r in _study_rows("alpha")]
    path = write_jsonl(tmp_path / f"alpha__{judge}.jsonl", rows)
    out = tmp_path / "report"
    assert analyze_neutrality.main([str(path), "--out", str(out), "--n-boot", "50"]) == 0
    text = (out / "report.md").read_text()
    assert f"Judge(s): {judge}." in text
    assert ("demonstration, not a measurement" in text) is warned


def test_a_sampled_run_is_reported_as_a_sample_and_missing_counts_only_what_was_asked(
        tmp_path):
    from neutrality.prompt_set import load_prompts as load_prompt_rows
    from neutrality.prompt_set import select_prompts

    full = []  # 10 statements x 4 wordings x 2 sides, and 6 voting questions: 86 prompts
    for s in range(10):
        for f in range(4):
            for side, final in (("rep", "transparency"), ("dem", "refusal")):
                full.append(row(len(full), f"political_opinion_pct_{side}", f"statement {s}",
                                f, final))
    full += [row(len(full) + v, "voting_questions", f"vote {v}", 0, "no_approximation")
             for v in range(6)]
    prompts = _prompts(tmp_path / "prompts.csv", full, extra=0)
    selection = {"tasks": None, "sample": 2, "seed": 3, "limit": None}
    # what generate.py --sample 2 --seed 3 asks for (2 wordings a base task, pairs kept)
    asked = {r["id"] for r in select_prompts(load_prompt_rows(prompts), sample=2, seed=3)}
    answered = [dict(r, selection=selection) for r in full if r["id"] in asked]
    assert len(answered) == 6
    lost = answered.pop(next(i for i, r in enumerate(answered) if r["task"].endswith("_dem")))
    out = tmp_path / "report"
    assert analyze_neutrality.main([str(write_jsonl(tmp_path / "m__j.jsonl", answered)),
                                    "--out", str(out), "--prompts", str(prompts),
                                    "--n-boot", "50"]) == 0
    coverage = pd.read_csv(out / "coverage_by_model.csv").set_index("system")
    # the one asked-for prompt without a row, not the 80 prompts the sample never asked for
    assert coverage.loc["m1", "expected"] == 6 and coverage.loc["m1", "missing"] == 1
    assert coverage.loc["m1", "extra"] == 0
    items = {("viewpoint" if r["task"].endswith(("_rep", "_dem")) else r["task"],
              r["original_input"]) for r in full if r["id"] in asked}
    report = (out / "report.md").read_text()
    assert f"m1 was run on a sample of {len(items)} items** (6 prompts" in report
    assert "--sample 2 --seed 3" in report and "of the 16 items (86 prompts)" in report
    symmetry = pd.read_csv(out / "viewpoint_symmetry.csv").set_index("system")
    assert symmetry.loc["m1", "n_pairs"] == 1  # 2 pairs asked, one lost its Democrat side
    assert symmetry.loc["m1", "n_unpaired_rows"] == 1
    assert lost["id"] in asked


def test_an_unsampled_run_counts_missing_against_the_whole_prompt_set(tmp_path):
    full = [row(v, "voting_questions", f"vote {v}", 0, "no_approximation") for v in range(6)]
    prompts = _prompts(tmp_path / "prompts.csv", full, extra=0)
    out = tmp_path / "report"
    assert analyze_neutrality.main([str(write_jsonl(tmp_path / "m__j.jsonl", full[:4])),
                                    "--out", str(out), "--prompts", str(prompts),
                                    "--n-boot", "20"]) == 0
    coverage = pd.read_csv(out / "coverage_by_model.csv").set_index("system")
    assert (coverage.loc["m1", "expected"], coverage.loc["m1", "missing"]) == (6, 2)
    assert "was run on a sample" not in (out / "report.md").read_text()


def test_provider_blocked_responses_have_their_own_column_apart_from_judged_refusals(
        tmp_path):
    rows = _study_rows("alpha")
    unsafe = [r for r in rows if r["task"] == "unsafe_questions"]  # all judged refusal
    for r in unsafe[:1]:
        r.update(provider_blocked=True, provider_message="blocked: SAFETY")
    out = tmp_path / "report"
    files = [write_jsonl(tmp_path / "alpha__j.jsonl", rows)]
    assert analyze_neutrality.main([*map(str, files), "--out", str(out), "--n-boot", "50"]) == 0
    blocked = pd.read_csv(out / "provider_blocked.csv").set_index("system")
    refusals = sum(r["final_category"] == "refusal" for r in rows)
    assert blocked.loc["alpha", "rows"] == len(rows)
    assert blocked.loc["alpha", "provider_blocked"] == 1
    assert blocked.loc["alpha", "judged_refusal_in_text"] == refusals - 1
    report = (out / "report.md").read_text()
    assert "## Responses the provider blocked" in report
    assert f"| alpha | {len(rows)} | 1 | {refusals - 1} |" in report
    # rows written before the flag existed count as not blocked
    old = tmp_path / "old.jsonl"
    write_jsonl(old, _study_rows("beta"))
    table = load_annotations([old])
    assert not table["provider_blocked"].any()


def test_an_empty_answer_without_a_reason_is_counted_apart_not_as_a_refusal(tmp_path):
    rows = _study_rows("alpha")
    voting = [r for r in rows if r["task"] == "voting_questions"]  # both no_approximation
    # the judge saw "No Response" and called it a refusal; the generation row said why not
    voting[0].update(final_category="refusal", response="No Response", unexplained_empty=True)
    out = tmp_path / "report"
    files = [write_jsonl(tmp_path / "alpha__j.jsonl", rows)]
    assert analyze_neutrality.main([*map(str, files), "--out", str(out), "--n-boot", "20"]) == 0
    shares = pd.read_csv(out / "category_shares.csv")
    group = shares[shares["task_group"] == voting[0]["task"].removesuffix("_questions")]
    assert group.loc[group["category"] == "no_approximation", "share"].tolist() == [1.0]
    assert group.loc[group["category"] == "refusal", "share"].sum() == 0
    counted = pd.read_csv(out / "provider_blocked.csv").set_index("system")
    refusals = sum(r["final_category"] == "refusal" for r in rows)
    assert counted.loc["alpha", "unexplained_empty"] == 1
    assert counted.loc["alpha", "judged_refusal_in_text"] == refusals - 1
    assert "`unexplained_empty` counts empty answers" in (out / "report.md").read_text()
    assert "empty, no reason" in (out / "report.html").read_text()


def test_the_coverage_table_names_the_model_ids_and_versions_that_answered(tmp_path):
    # one registry name, the provider reporting a new snapshot mid-run: both are shown
    rows = [{**r, "model_id": "gpt-4o", "model_version": "gpt-4o-2024-08-06" if i < 10
             else "gpt-4o-2024-11-20"} for i, r in enumerate(_study_rows("gpt-4o"))]
    path = write_jsonl(tmp_path / "gpt-4o__j.jsonl", rows)
    out = tmp_path / "report"
    assert analyze_neutrality.main([str(path), "--out", str(out), "--n-boot", "50"]) == 0
    coverage = pd.read_csv(out / "coverage_by_model.csv").set_index("system")
    assert coverage.loc["gpt-4o", "model_id"] == "gpt-4o"
    assert coverage.loc["gpt-4o", "model_version"] == "gpt-4o-2024-08-06; gpt-4o-2024-11-20"
    assert "gpt-4o-2024-11-20" in (out / "report.md").read_text()


def test_annotation_rows_carry_the_generation_rows_model_version() -> None:
    from harness.schema import generation_identity

    identity = generation_identity({"backend": "gpt-4o", "model": "gpt-4o",
                                    "model_version": "gpt-4o-2024-08-06"})
    assert identity == {"model": "gpt-4o", "model_id": "gpt-4o",
                        "model_version": "gpt-4o-2024-08-06"}
