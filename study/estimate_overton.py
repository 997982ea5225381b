"""Price a study's Overton stage before spending anything: the open answers and the coverage
judge (one call per option, and one per answer asking whether it refuses), in memory.

As for the neutrality judge, the judge is priced before any answer exists, each answer
counted at the generation budget, or with the answers' real lengths once the file exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from annotations.coverage import build_coverage_prompts, load_rubric
from annotations.coverage_run import calls_path, load_responses
from annotations.coverage_run import dry_run as coverage_dry_run
from annotations.probs_run import api_params
from backends.registry import BackendSpec, adapter_class, get_spec, load_registry
from harness.send import dry_run as send_dry_run
from pluralism.globalqa import DEFAULT_COUNTRIES, load_globalqa_items
from pluralism.overton import ROW_KEY, build_requests, load_overton_prompts
from pluralism.prompts import load_templates
from study.estimate import StageEstimate, StudyEstimate, _limits, _needs_key, _readable, _stage
from study.stages import StudyConfig, overton_paths


def estimate_overton(config: StudyConfig,
                     registry: Callable[[], dict[str, BackendSpec]] = load_registry
                     ) -> StudyEstimate:
    """The config's pluralism.overton block, priced; reads files, writes none."""
    block: dict[str, Any] = dict((config.pluralism or {}).get("overton") or {})
    estimate = StudyEstimate()
    specs = registry()
    path = _readable(config, block.get("data"))
    judge = get_spec(block["judge"], specs) if block.get("judge") else None
    mode = block.get("judge_mode") or "json"
    if path is None:
        estimate.stages.append(StageEstimate(
            "overton", f"not counted: GlobalOpinionQA data {block.get('data')} is not here "
            "yet (fetch_with: [globalqa], or the mirror)", None))
        return estimate
    countries = block.get("countries") or list(DEFAULT_COUNTRIES)
    items, _ = load_globalqa_items(path, countries,
                                   max_options=len(load_templates().globalqa.labels))
    items = items[:block["limit"]] if block.get("limit") else items
    prompts, rubric = load_overton_prompts(), load_rubric()
    for name in block.get("models", []):
        spec = get_spec(name, specs)
        _needs_key(spec, name, estimate.missing_keys)
        params = spec.params(max_tokens=block.get("max_tokens"),
                             temperature=block.get("temperature"))
        requests = build_requests(items, prompts, params, block.get("n_samples") or 1)
        answers, coverage = overton_paths(config, name, judge.name if judge else None)
        rpm, tpm = _limits(block, spec)
        estimate.stages.append(_stage(
            f"overton:{name}", f"{name}, {len(items):,} questions without their options",
            spec, send_dry_run(spec, requests, answers, ROW_KEY, params, rpm=rpm, tpm=tpm),
            rpm, tpm))
        if judge is None or coverage is None:
            continue
        if answers.exists():
            rows = load_responses(answers)
            basis = f"the {len(rows):,} answers in {answers}"
        else:
            rows = [{**r.key, **r.carry, "input": r.messages[-1]["content"], "error": None,
                     "provider_message": None, "response": "x" * (4 * params.max_tokens)}
                    for r in requests]
            basis = f"answers not generated yet, each at the {params.max_tokens}-token budget"
        local = adapter_class(judge).local
        judge_params = (api_params(judge) if mode == "probs" and not local
                        else judge.params(max_tokens=32))
        jrpm, jtpm = _limits(block, judge)
        run = coverage_dry_run(judge, build_coverage_prompts(rows, rubric, mode),
                               calls_path(coverage), judge_params, rpm=jrpm, tpm=jtpm)
        estimate.stages.append(_stage(
            f"overton-judge:{name}", f"judge {judge.name} ({mode}), one call per option and "
            f"one per answer ({basis})", judge, run, jrpm, jtpm,
            "; re-asks of unreadable answers come on top" if mode == "json" else ""))
    if judge is not None:
        _needs_key(judge, f"Overton judge {judge.name}", estimate.missing_keys)
    return estimate
