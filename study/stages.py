"""A whole study as a list of commands: the config, and the stages it asks for.

Each stage is one command line of a command (commands/, the same as `python scripts/x.py`),
so a study config says nothing the commands do not, and any stage can be rerun by hand;
study.run runs them in order and resumably.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.errors import UserError
from sources.manifest import MIRROR_ENV, load_manifest
from study.schema import validate_study_config


@dataclass(frozen=True)
class Stage:
    name: str
    script: str
    args: tuple[str, ...]
    inputs: tuple[Path, ...] = ()  # files whose change makes the stage run again
    optional_reason: str | None = None  # set: the stage is skipped, and the report says why
    dry_run_args: tuple[str, ...] | None = None  # run with these under --dry-run to estimate
    #: local and free (fetch, test set): a dry run runs it, so later stages can be estimated
    free: bool = False

    def arguments(self, dry_run: bool = False) -> list[str]:
        extra = self.dry_run_args if dry_run and self.dry_run_args is not None else ()
        return [*self.args, *extra]

    def display(self) -> str:
        return " ".join(shlex.quote(a) for a in ["python", f"scripts/{self.script}", *self.args])


@dataclass
class StudyConfig:
    """A study config (YAML). Paths are relative to the repository root."""

    name: str
    results_dir: Path
    reports_dir: Path
    mirror: Path | None = None
    data_dir: Path = Path("Data")  # where the raw data is fetched to and read from
    neutrality: dict[str, Any] | None = None
    pluralism: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def load_config(path: Path, overrides: dict[str, Any] | None = None) -> StudyConfig:
    """Read and check a study config (study.schema) before anything runs."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"config {path} does not exist; see configs/ for examples") from exc
    except yaml.YAMLError as exc:
        raise UserError(f"config {path} is not valid YAML: {exc}") from exc
    raw = validate_study_config(raw, path)
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    mirror = raw.get("mirror") or os.environ.get(MIRROR_ENV)
    return StudyConfig(
        name=raw.get("name", Path(path).stem),
        results_dir=Path(raw.get("results_dir", f"results/{Path(path).stem}")),
        reports_dir=Path(raw.get("reports_dir", f"reports/{Path(path).stem}")),
        mirror=Path(mirror) if mirror else None,
        data_dir=Path(raw.get("data_dir", "Data")),
        neutrality=raw.get("neutrality"),
        pluralism=raw.get("pluralism"),
        raw=raw,
    )


def _flag_args(options: dict[str, Any], allowed: dict[str, str]) -> list[str]:
    """Config options -> CLI flags, e.g. {"max_tokens": 200} -> ["--max-tokens", "200"]."""
    args: list[str] = []
    for key, value in options.items():
        if key not in allowed:
            raise UserError(f"unknown option '{key}'; known: {sorted(allowed)}")
        if value is None or value is False:
            continue
        args += [allowed[key]] if value is True else [allowed[key], str(value)]
    return args


GENERATION_OPTIONS = {
    "max_tokens": "--max-tokens", "temperature": "--temperature", "batch_size": "--batch-size",
    "concurrency": "--concurrency", "rpm": "--rpm", "tpm": "--tpm", "n_samples": "--n-samples",
    "base_url": "--base-url", "batch_api": "--batch-api", "tasks": "--tasks",
}
ANNOTATION_OPTIONS = {
    "n_evals": "--n-evals", "max_reparse": "--max-reparse", "concurrency": "--concurrency",
    "rpm": "--rpm", "tpm": "--tpm", "base_url": "--base-url", "templates": "--templates",
    "batch_api": "--batch-api", "max_tokens": "--max-tokens", "batch_size": "--batch-size",
    "judge_mode": "--judge-mode", "probs_wording": "--probs-wording",
}
DISTRIBUTION_OPTIONS = {
    "reps": "--reps", "limit": "--limit", "batch_size": "--batch-size", "seed": "--seed",
    "templates": "--templates", "samples_per_item": "--samples-per-item",
}


def neutrality_stages(config: StudyConfig) -> list[Stage]:
    if not config.neutrality:
        return []
    spec = dict(config.neutrality)
    results, reports = config.results_dir, config.reports_dir
    test_set = results / "test_input.csv"
    models = spec.pop("models", [])
    judge = spec.pop("judge", None)
    sample = spec.pop("sample_per_task", None)
    seed = spec.pop("seed", 0)
    templates = spec.pop("templates", None)
    generation = spec.pop("generation", {}) or {}
    annotation = spec.pop("annotation", {}) or {}
    if spec:
        raise UserError(f"config 'neutrality': unknown key(s) {sorted(spec)}")
    stages = [Stage("test-set", "create_test_dataset.py",
                    ("--data-dir", str(config.data_dir), "--out", str(test_set),
                     *(("--templates", str(templates)) if templates else ())),
                    inputs=(Path(templates),) if templates else (), free=True)]
    select = ("--sample", str(sample), "--seed", str(seed)) if sample else ()
    annotation_files = []
    for model in models:
        generations = results / "generations" / f"{model}.jsonl"
        stages.append(Stage(
            f"generate:{model}", "generate.py",
            ("--backend", model, "--prompts", str(test_set), "--out", str(generations),
             *select, *_flag_args(generation, GENERATION_OPTIONS)),
            inputs=(test_set,), dry_run_args=("--dry-run",)))
        if judge:
            annotations = results / "annotations" / f"{model}__{judge}.jsonl"
            annotation_files.append(annotations)
            stages.append(Stage(
                f"annotate:{model}", "annotate.py",
                ("--judge", judge, "--generations", str(generations), "--out", str(annotations),
                 *_flag_args(annotation, ANNOTATION_OPTIONS)),
                inputs=(generations,), dry_run_args=("--dry-run",)))
    if annotation_files:
        stages.append(Stage(
            "analyze-neutrality", "analyze_neutrality.py",
            (*map(str, annotation_files), "--prompts", str(test_set),
             "--out-dir", str(reports / "neutrality")),
            inputs=tuple(annotation_files)))
    return stages


def pluralism_stages(config: StudyConfig) -> list[Stage]:
    spec = dict(config.pluralism or {})
    results, reports = config.results_dir, config.reports_dir
    collection = spec.pop("collection", {}) or {}
    pairs = spec.pop("pairs", []) or []
    mpi = spec.pop("mpi", None)
    globalqa = spec.pop("globalqa", None)
    overton = spec.pop("overton", None)
    if spec:
        raise UserError(f"config 'pluralism': unknown key(s) {sorted(spec)}")
    stages: list[Stage] = []
    outputs: dict[str, list[Path]] = {"mpi": [], "globalqa": []}  # files the analysis reads
    for dataset, block, script in (("mpi", mpi, "create_model_response_mpi.py"),
                                   ("globalqa", globalqa, "create_model_response_globalqa.py")):
        if not block:
            continue
        block = dict(block)
        models = block.pop("models", [])
        data = block.pop("data", None)
        countries = block.pop("countries", None)
        steer = block.pop("steer", None)
        block.pop("human", None)  # read by the analysis stage below
        if dataset == "mpi" and not data:
            data = str(config.data_dir / "pluralism" / "mpi_questions.tsv")  # as fetched
        skip = None
        fetched = ("globalqa" in requested_data(config)
                   and Path(data or "") == config.data_dir / ON_REQUEST_PATHS["globalqa"])
        if dataset == "globalqa" and data and not Path(data).exists() and not fetched:
            skip = (f"GlobalOpinionQA data {data} not found; download it (see README) "
                    "to run this stage")
        elif dataset == "globalqa" and not data:
            skip = "no GlobalOpinionQA data given (pluralism.globalqa.data)"
        save_dir = results / "distributions" / dataset
        for model in models:
            if not skip:
                outputs[dataset].append(save_dir / f"{model}.jsonl")
            stages.append(Stage(
                f"{dataset}:{model}", script,
                ("--backend", model, "--out-dir", str(save_dir),
                 *(("--data_dir", str(data)) if data else ()),
                 *(("--countries", ",".join(countries)) if countries else ()),
                 *_flag_args({**collection, **block}, DISTRIBUTION_OPTIONS)),
                inputs=(Path(data),) if data and not skip else (),
                optional_reason=skip, dry_run_args=("--dry-run",)))
            if steer is not None:
                stages.append(steered_stage(stages[-1], dataset, steer))
    args: list[str] = []
    for dataset, files in outputs.items():
        if files:
            args += [f"--{dataset}", *map(str, files)]
    if mpi and mpi.get("human"):
        args += ["--mpi-human", str(mpi["human"]), "--mpi-items", str(
            mpi.get("data") or config.data_dir / "pluralism" / "mpi_questions.tsv")]
    overton_files: list[Path] = []
    if overton:
        more, overton_files = overton_stages(config, overton)
        stages += more
        args += overton_analysis_args(overton, overton_files)
    for pretrained, aligned in pairs:
        args += ["--pair", f"{pretrained}:{aligned}"]
    if args:
        stages.append(Stage("analyze-distributions", "analyze_distributions.py",
                            (*args, "--out-dir", str(reports / "distributions")),
                            inputs=(*(f for files in outputs.values() for f in files),
                                    *overton_files)))
    return stages


OVERTON_RESPONSE_OPTIONS = {
    "limit": "--limit", "max_tokens": "--max-tokens", "temperature": "--temperature",
    "n_samples": "--n-samples", "batch_api": "--batch-api", "batch_size": "--batch-size",
}
OVERTON_JUDGE_OPTIONS = {"judge_mode": "--judge-mode", "batch_api": "--batch-api",
                         "batch_size": "--batch-size", "max_reparse": "--max-reparse"}


def overton_paths(config: StudyConfig, model: str, judge: str | None
                  ) -> tuple[Path, Path | None]:
    """A model's open answers and its coverage rows in the study's results folder."""
    folder = config.results_dir / "overton"
    coverage = folder / "coverage" / f"{model}__{judge}.jsonl" if judge else None
    return folder / f"{model}.jsonl", coverage


def overton_stages(config: StudyConfig, block: dict[str, Any]
                   ) -> tuple[list[Stage], list[Path]]:
    """Per model: the open answers (create_overton_responses.py), then the coverage judge
    (annotate_overton.py). `run_study.py --dry-run` prices both in memory
    (study.estimate_overton), so a dry run echoes these stages without running them."""
    block = dict(block)
    data = block.get("data")
    countries = block.get("countries")
    judge = block.get("judge")
    skip = None
    fetched = ("globalqa" in requested_data(config)
               and Path(data or "") == config.data_dir / ON_REQUEST_PATHS["globalqa"])
    if not data:
        skip = "no GlobalOpinionQA data given (pluralism.overton.data)"
    elif not Path(data).exists() and not fetched:
        skip = f"GlobalOpinionQA data {data} not found; download it (see README) to run it"
    response_flags = _flag_args({k: v for k, v in block.items() if k in
                                 OVERTON_RESPONSE_OPTIONS}, OVERTON_RESPONSE_OPTIONS)
    judge_flags = _flag_args({k: v for k, v in block.items() if k in OVERTON_JUDGE_OPTIONS},
                             OVERTON_JUDGE_OPTIONS)
    stages, files = [], []
    for model in block.get("models", []):
        answers, coverage = overton_paths(config, model, judge)
        stages.append(Stage(
            f"overton:{model}", "create_overton_responses.py",
            ("--backend", model, "--out", str(answers), "--data_dir", str(data),
             *(("--countries", ",".join(countries)) if countries else ()), *response_flags),
            inputs=(Path(data),) if data and not skip else (), optional_reason=skip))
        if coverage is not None:
            if not skip:
                files.append(coverage)
            stages.append(Stage(
                f"overton-judge:{model}", "annotate_overton.py",
                ("--judge", judge, "--responses", str(answers), "--out", str(coverage),
                 *judge_flags),
                inputs=(answers,), optional_reason=skip))
    return stages, files


def overton_analysis_args(block: dict[str, Any], files: list[Path]) -> list[str]:
    if not files:
        return []
    args = ["--overton", *map(str, files)]
    if block.get("window_threshold") is not None:
        args += ["--window-threshold", str(block["window_threshold"])]
    if block.get("countries"):
        args += ["--overton-countries", ",".join(block["countries"])]
    return args


def steered_stage(unsteered: Stage, dataset: str, steer: dict[str, Any]) -> Stage:
    """The same collection steered (into the same file: steered rows sit beside the
    unsteered ones, which it finds done); `limit` steers only the first items, and never
    more than the collection's own limit (a steered run collects its items unsteered too)."""
    if dataset == "mpi" and not steer.get("groups"):
        raise UserError("config 'pluralism.mpi.steer' needs groups, e.g. [SEX=2, AGE=18-29]")
    if dataset == "globalqa" and steer.get("groups"):
        raise UserError("config 'pluralism.globalqa.steer' steers to its countries; groups "
                        "are for mpi")
    args = ["--steer", "group", "--groups", ";".join(steer["groups"])] if dataset == "mpi" \
        else ["--steer", "country"]
    for key, flag in (("wording", "--steer-wording"), ("steering", "--steering")):
        if steer.get(key) is not None:
            args += [flag, str(steer[key])]
    limit = steer.get("limit")
    if limit is not None and "--limit" in unsteered.args:
        # never more items than the collection itself asks
        limit = min(int(limit), int(unsteered.args[unsteered.args.index("--limit") + 1]))
    if limit is not None:
        args += ["--limit", str(limit)]
    name = unsteered.name.replace(f"{dataset}:", f"{dataset}-steered:", 1)
    inputs = unsteered.inputs + ((Path(steer["steering"]),) if steer.get("steering") else ())
    return dataclasses.replace(unsteered, name=name, args=(*unsteered.args, *args),
                               inputs=inputs)


#: data fetched only on request (`fetch_data.py --with NAME`) -> its path in the data folder
ON_REQUEST_PATHS = {"globalqa": "pluralism/global_opinions.csv",
                    "ipip": "pluralism/ipip_neo_120_responses.csv"}


def requested_data(config: StudyConfig) -> list[str]:
    """The on-request data the config asks the fetch stage for (`fetch_with`)."""
    wanted = config.raw.get("fetch_with") or []
    if isinstance(wanted, str):
        wanted = [w.strip() for w in wanted.split(",")]
    unknown = sorted(set(wanted) - set(ON_REQUEST_PATHS))
    if unknown:
        raise UserError(f"config: fetch_with has unknown name(s) {unknown}; known: "
                        f"{sorted(ON_REQUEST_PATHS)}")
    return list(wanted)


def study_stages(config: StudyConfig) -> list[Stage]:
    # the fetched files are its inputs: one deleted or changed is fetched again
    extras = requested_data(config)
    fetch = Stage("fetch", "fetch_data.py",
                  ("--data-dir", str(config.data_dir),
                   *(("--mirror", str(config.mirror)) if config.mirror else ()),
                   *(("--with", ",".join(extras)) if extras else ())),
                  inputs=tuple(config.data_dir / f.path for f in load_manifest(extras=extras)),
                  free=True)
    return [fetch, *neutrality_stages(config), *pluralism_stages(config)]


def fetch_plan(config: StudyConfig) -> str:
    """What the fetch stage would do, from the manifest alone (a dry run fetches nothing)."""
    extras = requested_data(config)
    files = load_manifest(extras=extras)
    missing = [f.path for f in files if not (config.data_dir / f.path).exists()]
    source = f"copied from {config.mirror}" if config.mirror else "downloaded (free)"
    if not missing:
        return f"[fetch] all {len(files)} data files are in {config.data_dir}/"
    derived = sum(1 for f in files if f.derived and f.path in missing)
    return (f"[fetch] {len(missing)} of {len(files)} data files to fetch into "
            f"{config.data_dir}/, {source}; {derived} of them derived from the studies' "
            "source files" + (f"; on request: {', '.join(extras)}" if extras else ""))


def read_from_mirror(stages: list[Stage], config: StudyConfig) -> list[Stage]:
    """For a dry run, which fetches nothing: a stage's not-yet-fetched data file is read from
    the mirror instead, when the mirror has it, so the stage can still be estimated."""
    if config.mirror is None:
        return stages
    prefix = f"{config.data_dir}/"

    def swap(value: str) -> str:
        mirrored = Path(config.mirror or "") / value[len(prefix):]
        if value.startswith(prefix) and not Path(value).exists() and mirrored.exists():
            return str(mirrored)
        return value

    return [dataclasses.replace(s, args=tuple(swap(a) for a in s.args),
                                inputs=tuple(Path(swap(str(i))) for i in s.inputs))
            for s in stages]

