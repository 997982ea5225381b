import pytest

from core.errors import EXIT_ROWS_FAILED, RowsFailed, UserError
from harness.cli import rows_failed_status, run_main
from study.run import run_stages
from study.stages import Stage, load_config, study_stages


def recording_runner(calls, fail_on=None):
    def run(script, arguments):
        calls.append(script)
        return 1 if fail_on and fail_on in script else 0
    return run


def test_second_run_skips_finished_stages_until_an_input_changes(tmp_path):
    data = tmp_path / "input.csv"
    data.write_text("a\n")
    stages = [Stage("one", "one.py", ("--x", "1"), inputs=(data,)),
              Stage("two", "two.py", ())]
    calls: list[str] = []
    run_stages(stages, tmp_path, runner=recording_runner(calls), echo=lambda s: None)
    assert calls == ["one.py", "two.py"]
    outcome = run_stages(stages, tmp_path, runner=recording_runner(calls), echo=lambda s: None)
    assert calls == ["one.py", "two.py"]
    assert set(outcome.values()) == {"skipped (done)"}
    data.write_text("a\nb\n")
    run_stages(stages, tmp_path, runner=recording_runner(calls), echo=lambda s: None)
    assert calls == ["one.py", "two.py", "one.py"]


def test_failed_stage_stops_the_study_and_is_retried_next_time(tmp_path):
    stages = [Stage("one", "one.py", ()), Stage("two", "two.py", ()), Stage("three", "t.py", ())]
    calls: list[str] = []
    with pytest.raises(UserError, match="stage 'two' failed"):
        run_stages(stages, tmp_path, runner=recording_runner(calls, "two.py"), echo=print)
    assert calls == ["one.py", "two.py"]
    run_stages(stages, tmp_path, runner=recording_runner(calls), echo=print)
    assert calls == ["one.py", "two.py", "two.py", "t.py"]


def test_demo_config_builds_every_stage_of_both_studies(tmp_path):
    config = load_config("configs/demo.yaml", {"mirror": str(tmp_path)})
    names = [s.name for s in study_stages(config)]
    assert names[:2] == ["fetch", "test-set"]
    for expected in ("generate:smollm2-135m-instruct", "annotate:smollm2-135m-instruct",
                     "analyze-neutrality", "mpi:smollm2-135m-instruct", "analyze-distributions"):
        assert expected in names
    fetch = study_stages(config)[0]
    assert fetch.args == ("--data-dir", "Data", "--mirror", str(tmp_path))


def test_missing_globalqa_data_skips_its_stage_with_a_reason(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "pluralism:\n  globalqa:\n    models: [m]\n    data: nowhere.csv\n"
    )
    stages = {s.name: s for s in study_stages(load_config(config))}
    assert "not found" in stages["globalqa:m"].optional_reason
    assert "analyze-distributions" not in stages  # nothing to analyse


def test_unknown_config_keys_are_named(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("neutrality:\n  models: [m]\n  generation: {max_tokenz: 3}\n")
    with pytest.raises(UserError, match="max_tokenz"):
        study_stages(load_config(config))
    config.write_text("nuetrality: {}\n")
    with pytest.raises(UserError, match="nuetrality"):
        load_config(config)


def test_dry_run_runs_no_stage_and_asks_paid_ones_for_estimates(tmp_path):
    made = tmp_path / "made.csv"
    stages = [Stage("fetch", "fetch.py", (), free=True),
              Stage("gen", "gen.py", ("--x",), inputs=(tmp_path,), dry_run_args=("--dry-run",)),
              Stage("judge", "judge.py", (), inputs=(made,), dry_run_args=("--dry-run",)),
              Stage("report", "report.py", ())]
    argvs: list[list[str]] = []
    lines: list[str] = []
    outcome = run_stages(stages, tmp_path, dry_run=True, echo=lines.append,
                         runner=lambda script, args: argvs.append([script, *args]) or 0)
    # a free stage writes (the fetch, the test set): a dry run does not run it
    assert [a[0] for a in argvs] == ["gen.py"]
    assert argvs[0][-1] == "--dry-run"
    assert any("no estimate yet" in line and str(made) in line for line in lines)
    assert outcome == {"fetch": "dry run", "gen": "dry run", "judge": "dry run",
                       "report": "dry run"}
    assert list(tmp_path.iterdir()) == []


def test_dry_run_stops_when_a_stage_refuses_its_input(tmp_path):
    stages = [Stage("gen", "gen.py", (), dry_run_args=("--dry-run",)),
              Stage("later", "later.py", (), dry_run_args=("--dry-run",))]
    calls: list[str] = []
    with pytest.raises(UserError, match="stage 'gen' cannot run"):
        run_stages(stages, tmp_path, dry_run=True, echo=lambda s: None,
                   runner=recording_runner(calls, "gen.py"))
    assert calls == ["gen.py"]


def test_a_stage_with_failed_rows_stops_the_study_with_exit_3_until_retried(tmp_path):
    stages = [Stage("generate:m", "generate.py", ("--backend", "m")),
              Stage("mpi:m", "create_model_response_mpi.py", ()),
              Stage("annotate:m", "annotate.py", ())]
    argvs: list[list[str]] = []

    def failing_generation(script, arguments):
        argvs.append([script, *arguments])
        return EXIT_ROWS_FAILED if script == "generate.py" else 0

    with pytest.raises(RowsFailed, match="stage 'generate:m' ended with failed rows.*"
                                         "--retry-errors") as info:
        run_stages(stages, tmp_path, runner=failing_generation, echo=print)
    assert info.value.exit_status == EXIT_ROWS_FAILED
    assert len(argvs) == 1 and "--retry-errors" not in argvs[0]
    run_stages(stages, tmp_path, runner=lambda script, args: argvs.append([script, *args]) or 0,
               echo=print, retry_errors=True)
    # the flag goes to the scripts that skip their error rows without it, and only to them
    assert [("--retry-errors" in a) for a in argvs[1:]] == [True, False, True]
    # and is no part of a stage's fingerprint: done stages stay done
    again = run_stages(stages, tmp_path, runner=lambda script, args: 1, echo=print)
    assert set(again.values()) == {"skipped (done)"}


def test_run_main_exits_3_for_failed_rows_and_1_for_a_user_error():
    for raised, status in ((RowsFailed("rows failed"), EXIT_ROWS_FAILED),
                           (UserError("bad input"), 1)):
        def main(argv, exc=raised):
            raise exc
        with pytest.raises(SystemExit) as info:
            run_main(main)
        assert info.value.code == status
    with pytest.raises(SystemExit) as info:
        run_main(lambda argv: rows_failed_status(2))
    assert info.value.code == EXIT_ROWS_FAILED


def test_a_stage_runs_its_command_in_this_process_with_the_scripts_exit_status(capsys,
                                                                              monkeypatch):
    import subprocess

    from commands import run_command

    def no_subprocess(*args, **kwargs):
        raise AssertionError("a stage must not start a process")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    assert run_command("generate.py", ["--list"]) == 0
    assert "smollm2-135m-instruct" in capsys.readouterr().out
    assert run_command("generate.py", ["--backend", "gpt4o", "--list-nothing"]) == 2
    assert capsys.readouterr().err.startswith("generate.py: error:")  # named as its script
    assert run_command("generate.py", ["--backend", "gpt4o"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        "error: unknown backend 'gpt4o'; did you mean 'gpt-4o'")


def test_redo_stale_reaches_every_stage_that_checks_its_rows(tmp_path):
    """Issue 27 §1: a stage stopped by rows made from another request (the config edited)
    names --redo-stale as the way out; run_study must be able to pass it on."""
    from commands.run_study import main as run_study_main

    stages = [Stage("fetch", "fetch_data.py", ()), Stage("generate:m", "generate.py", ()),
              Stage("annotate:m", "annotate.py", ()),
              Stage("mpi:m", "create_model_response_mpi.py", ()),
              Stage("globalqa:m", "create_model_response_globalqa.py", ()),
              Stage("overton:m", "create_overton_responses.py", ()),
              Stage("overton-judge:m", "annotate_overton.py", ()),
              Stage("analysis", "analyze_neutrality.py", ())]
    argvs: list[list[str]] = []
    run_stages(stages, tmp_path, runner=lambda script, args: argvs.append(args) or 0,
               echo=print, redo_stale=True)
    assert [("--redo-stale" in a) for a in argvs] == [False, *[True] * 6, False]
    # run_study takes the flag (a usage error would be SystemExit 2; this reaches the config)
    with pytest.raises(UserError, match="does not exist"):
        run_study_main(["--redo-stale", "--config", str(tmp_path / "absent.yaml")])


def test_a_steer_block_adds_a_steered_collection_into_the_same_file(tmp_path):
    config = tmp_path / "c.yaml"
    data = tmp_path / "g.csv"
    data.write_text("question,selections,options\n")
    config.write_text(
        "pluralism:\n  collection: {reps: 2, limit: 40}\n"
        "  mpi:\n    models: [m]\n    steer: {groups: [SEX=2, AGE=18-29&SEX=1], limit: 5}\n"
        f"  globalqa:\n    models: [m]\n    data: {data}\n    countries: [Japan]\n"
        "    steer: {wording: durmus}\n")
    stages = {s.name: s for s in study_stages(load_config(config))}
    plain, steered = stages["mpi:m"], stages["mpi-steered:m"]
    assert steered.args[:len(plain.args)] == plain.args  # same file, same settings
    assert steered.args[len(plain.args):] == ("--steer", "group", "--groups",
                                              "SEX=2;AGE=18-29&SEX=1", "--limit", "5")
    assert stages["globalqa-steered:m"].args[-4:] == ("--steer", "country", "--steer-wording",
                                                      "durmus")
    analysis = stages["analyze-distributions"]
    assert analysis.args.count(str(plain.args[plain.args.index("--out-dir") + 1]) + "/m.jsonl") \
        == 1
    # a steer limit past the collection's own is cut to it (a steered run collects its items
    # unsteered too)
    wide = tmp_path / "wide.yaml"
    wide.write_text("pluralism:\n  collection: {limit: 3}\n  mpi:\n    models: [m]\n"
                    "    steer: {groups: [SEX=2], limit: 10}\n")
    wide_steered = {s.name: s for s in study_stages(load_config(wide))}["mpi-steered:m"]
    assert wide_steered.args[-2:] == ("--limit", "3")
    bad = tmp_path / "bad.yaml"
    bad.write_text("pluralism:\n  mpi:\n    models: [m]\n    steer: {limit: 5}\n")
    with pytest.raises(UserError, match="needs groups"):
        study_stages(load_config(bad))
