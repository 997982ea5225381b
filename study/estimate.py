"""Price a neutrality study before spending anything, and write nothing while doing it.

`run_study.py --dry-run` used to run the free stages (fetch, test set) so the paid ones could
be counted, and left the judge unpriced because its input, the answers, did not exist yet. Here
every stage is counted in memory: the test set is built from the fetched data (or the mirror)
without being written, and the judge is priced before any answer exists as responses x evals x
(judge prompt + the generation budget), or with the answers' real lengths once a generations
file exists; with `judge_mode: probs`, as annotate.py prices the probability judge (one call
per response, one output token, no batch API). The totals are given online and with --batch-
api, with the wall time at the configured rate limits, the API keys the run needs that are
unset, and the retired models in the config.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotations.probs import build_probs_prompts, load_wording
from annotations.probs_run import check_probs_judge, probs_dry_run
from annotations.prompts import build_prompts, load_judge_template
from annotations.run import calls_path, load_generations
from annotations.run import dry_run as judge_dry_run
from backends.registry import BackendSpec, adapter_class, get_spec, load_registry
from harness.batch import BATCH_PRICE_FACTOR
from harness.schema import GENERATION_KEY
from harness.send import DryRun
from harness.send import dry_run as send_dry_run
from neutrality.generate import build_requests
from neutrality.prompt_set import select_prompts
from neutrality.templates import load_templates
from neutrality.testset import build_test_set
from sources.neutrality import load_all_sources
from study.stages import StudyConfig


@dataclass
class StageEstimate:
    name: str
    detail: str
    cost_usd: float | None = 0.0  # None: no price known
    minutes: float | None = None  # at the rate limits; None: no limit (local) or unknown
    batchable: bool = False  # --batch-api applies (about half the price)
    local: bool = False


@dataclass
class StudyEstimate:
    stages: list[StageEstimate] = field(default_factory=list)
    missing_keys: dict[str, list[str]] = field(default_factory=dict)  # env var(s) -> users
    retired: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def total(self, batch_api: bool) -> float | None:
        costs = [(s.cost_usd or 0.0) * (BATCH_PRICE_FACTOR if batch_api and s.batchable else 1)
                 for s in self.stages]
        return None if any(s.cost_usd is None for s in self.stages) else sum(costs)

    def format(self) -> str:
        lines = [f"[{s.name}] {s.detail}" for s in self.stages]
        online, batch = self.total(False), self.total(True)
        unknown = [s.name for s in self.stages if s.cost_usd is None]
        if unknown:
            lines.append(f"total: unknown (not priced: {', '.join(unknown)})")
        else:
            lines.append(f"total: ${online:,.2f} online, ${batch:,.2f} with --batch-api "
                         "(upper bound: every answer counted at its full token budget)")
        minutes = sum(s.minutes or 0.0 for s in self.stages)
        local = [s.name for s in self.stages if s.local]
        lines.append(f"wall time at the rate limits: at least {_duration(minutes)} online "
                     "(stages run one after another; a batch takes up to 24 h)"
                     + (f"; not counted: GPU time of {', '.join(local)}" if local else ""))
        if self.missing_keys:
            lines.append("missing keys: " + "; ".join(
                f"{env} (for {', '.join(users)})" for env, users in self.missing_keys.items()))
        else:
            lines.append("missing keys: none")
        lines += [f"retired: {r}" for r in self.retired]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _duration(minutes: float) -> str:
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _money(value: float | None) -> str:
    return "price unknown" if value is None else f"${value:,.2f}"


def _source_dir(config: StudyConfig) -> tuple[Path | None, str]:
    """Where the raw CSVs can be read from without fetching: the data folder, else the mirror."""
    for folder, what in ((config.data_dir, "the data folder"), (config.mirror, "the mirror")):
        if folder and (Path(folder) / "neutrality" / "data_voting_questions.csv").exists():
            return Path(folder), f"{what} {folder}"
    return None, ""


def _readable(config: StudyConfig, path: str | None) -> Path | None:
    """A file the config names, or the mirror's copy while the data folder lacks it."""
    if not path:
        return None
    if Path(path).exists():
        return Path(path)
    try:
        mirrored = Path(config.mirror or "") / Path(path).relative_to(config.data_dir)
    except ValueError:
        return None
    return mirrored if config.mirror and mirrored.exists() else None


def _test_rows(config: StudyConfig, templates: str | None,
               notes: list[str]) -> tuple[list[dict[str, Any]] | None, str]:
    """The test set's rows, built in memory; None when the raw data is not here yet."""
    folder, where = _source_dir(config)
    if folder is None:
        return None, ("not counted: the raw data is not fetched yet; run `python "
                      "scripts/fetch_data.py` (free) and dry-run again to price the study")
    path = _readable(config, templates)
    if templates and path is None:
        notes.append(f"{templates} is not derived yet (fetch_data.py does it); prompt lengths "
                     "are counted with the project's own templates, which have the same "
                     "structure")
    templates_used = load_templates(path) if path else load_templates()
    rows = [dataclasses.asdict(r)
            for r in build_test_set(load_all_sources(folder), templates_used)]
    return rows, f"{len(rows):,} prompts, built in memory from {where} (nothing written)"


def _limits(options: dict[str, Any], spec: BackendSpec) -> tuple[float | None, float | None]:
    if adapter_class(spec).local:
        return None, None
    return options.get("rpm") or spec.rpm, options.get("tpm") or spec.tpm


def _stage(name: str, what: str, spec: BackendSpec, run: DryRun, rpm: float | None,
           tpm: float | None, extra: str = "", no_batch: str = "") -> StageEstimate:
    """`no_batch`: why --batch-api does not apply though the provider has a batch API."""
    cls = adapter_class(spec)
    local = cls.local
    batchable = cls.batch_adapter is not None and not no_batch
    price = ("free (local)" if local else
             f"{_money(run.cost_usd)} online"
             + (f", {_money(None if run.cost_usd is None else run.cost_usd * BATCH_PRICE_FACTOR)}"
                " with --batch-api" if batchable else f", no batch API{no_batch}"))
    limits = "" if local else f"; at least {_duration(run.minutes_at_limits or 0)} at " \
        f"{rpm or '-'} rpm / {tpm or '-'} tpm"
    detail = (f"{what}: {run.requests:,} requests ({run.already_done:,} done), "
              f"~{run.input_tokens:,} tokens in, at most {run.max_output_tokens:,} out; "
              f"{price}{limits}{extra}")
    return StageEstimate(name, detail, 0.0 if local else run.cost_usd,
                         None if local else run.minutes_at_limits, batchable, local)


def _needs_key(spec: BackendSpec, user: str, missing: dict[str, list[str]]) -> None:
    cls = adapter_class(spec)
    # an optional key counts where the entry says it is needed (a gated model's HF_TOKEN)
    needed = not cls.key_optional or (cls.local and "gated" in spec.notes.lower())
    envs = cls.key_envs if needed else ()
    if envs and not any(os.environ.get(e) for e in envs):
        missing.setdefault(" or ".join(envs), []).append(user)


def estimate_neutrality(config: StudyConfig,
                        registry: Callable[[], dict[str, BackendSpec]] = load_registry
                        ) -> StudyEstimate:
    """Every stage of the config's neutrality study, priced; reads files, writes none."""
    spec_block = dict(config.neutrality or {})
    estimate = StudyEstimate()
    specs = registry()
    generation = dict(spec_block.get("generation") or {})
    annotation = dict(spec_block.get("annotation") or {})
    rows, detail = _test_rows(config, spec_block.get("templates"), estimate.notes)
    estimate.stages.append(StageEstimate("test-set", detail, 0.0 if rows is not None else None))
    judge = get_spec(spec_block["judge"], specs) if spec_block.get("judge") else None
    for name in spec_block.get("models", []):
        spec = get_spec(name, specs)
        if spec.retired:
            estimate.retired.append(
                f"{name} ({spec.model_id}) is retired by its provider, so its requests will "
                f"fail; its successor is {spec.successor} (list that in the config instead)")
        _needs_key(spec, name, estimate.missing_keys)
        if rows is None:
            continue
        tasks = generation.get("tasks")
        selected = select_prompts(rows, tasks=tasks.split(",") if tasks else None,
                                  sample=spec_block.get("sample_per_task"),
                                  seed=spec_block.get("seed", 0))
        # the seed generate.py is given (study.stages), so rows already written compare alike
        params = spec.params(max_tokens=generation.get("max_tokens"),
                             temperature=generation.get("temperature"),
                             seed=spec_block.get("seed", 0) if spec_block.get("sample_per_task")
                             else None)
        requests = build_requests(selected, params, generation.get("n_samples") or 1)
        out = config.results_dir / "generations" / f"{name}.jsonl"
        rpm, tpm = _limits(generation, spec)
        estimate.stages.append(_stage(f"generate:{name}", name, spec, send_dry_run(
            spec, requests, out, GENERATION_KEY, params, rpm=rpm, tpm=tpm), rpm, tpm))
        if judge is not None:
            estimate.stages.append(_judge_stage(config, name, judge, annotation, requests,
                                                params.max_tokens, out))
    if judge is not None:
        _needs_key(judge, f"judge {judge.name}", estimate.missing_keys)
        if judge.retired:
            estimate.retired.append(f"judge {judge.name} is retired; its successor is "
                                    f"{judge.successor}")
    return estimate


def _judge_stage(config: StudyConfig, model: str, judge: BackendSpec,
                 annotation: dict[str, Any], requests: list[Any], budget: int,
                 generations: Path) -> StageEstimate:
    """The judge's cost: real answers when the generations file exists, else each answer
    counted at the generation budget (`budget` tokens, 4 characters a token)."""
    n_evals = int(annotation.get("n_evals") or 1)
    template = load_judge_template(_readable(config, annotation.get("templates")))
    if generations.exists():
        rows = load_generations(generations)
        basis = f"the {len(rows):,} answers in {generations}"
    else:
        rows = [{"id": r.key["id"], "sample": r.key["sample"],
                 "input": r.messages[-1]["content"], "response": "x" * (4 * budget),
                 "error": None} for r in requests]
        basis = f"answers not generated yet, each counted at the {budget}-token budget"
    rpm, tpm = _limits(annotation, judge)
    calls = calls_path(config.results_dir / "annotations" / f"{model}__{judge.name}.jsonl")
    if annotation.get("judge_mode") == "probs":
        # priced as `annotate.py --judge-mode probs --dry-run` prices it: one prompt per
        # response, one output token, no re-asks, and no batch API (it refuses one)
        check_probs_judge(judge)
        probs = build_probs_prompts(rows, template,
                                    load_wording(annotation.get("probs_wording") or "ours"))
        run = probs_dry_run(judge, probs, calls, rpm=rpm, tpm=tpm)
        return _stage(f"annotate:{model}", f"judge {judge.name}, probability mode, one call "
                      f"per response ({basis})", judge, run, rpm, tpm,
                      no_batch=" (the probability judge sends none)")
    prompts = build_prompts(rows, template, n_evals)
    params = judge.params(temperature=0.0, max_tokens=annotation.get("max_tokens"))
    run = judge_dry_run(judge, prompts, calls, params, int(annotation.get("max_reparse") or 0),
                        rpm=rpm, tpm=tpm)
    return _stage(f"annotate:{model}", f"judge {judge.name}, {n_evals} per response ({basis})",
                  judge, run, rpm, tpm, "; re-asks of unreadable answers come on top")
