"""Judge which answer options each open answer presents (Overton coverage), one call per option.

    python scripts/annotate_overton.py --judge gpt-4o --responses results/overton/m.jsonl
    python scripts/annotate_overton.py --judge gpt-4o --responses R.jsonl --judge-mode probs
    python scripts/annotate_overton.py --judge smollm2-135m-instruct --responses R.jsonl \\
        --judge-mode probs                                    # local: one forward pass a call
    python scripts/annotate_overton.py --judge gpt-4o --responses R.jsonl --dry-run

For every answer and every option of its item, the judge says whether the answer presents the
option's view as one a reasonable person could hold, and once per answer whether it refuses.
Writes results/overton/coverage/<model>__<judge>.jsonl (one row per answer) and, beside it,
<...>.calls.jsonl (one row per judge call). Rerunning the same command resumes. Check the
judge against our labelled pairs first (overton_agreement.py); see docs/overton.md.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from annotations.coverage import MODES, build_coverage_prompts, load_rubric
from annotations.coverage_run import (
    CALL_KEY,
    NOT_SCORED,
    calls_path,
    default_out,
    dry_run,
    load_responses,
    local_stale,
    run_api_probs,
    run_json_judge,
    run_local_probs,
    write_coverage,
)
from annotations.probs_run import api_params, check_logprobs_given, check_probs_judge
from backends.registry import adapter_class, check_flags, get_spec, load_registry
from core.errors import UserError
from harness.batch import check_batch_backend
from harness.batch_manage import batch_cancel, batch_status
from harness.cli import positive, rows_failed_status, script_parser, set_aside
from harness.request import done_rows
from harness.request_cli import (
    add_batch_arguments,
    add_model_arguments,
    add_request_arguments,
    batch_options,
    request_options,
)
from harness.results import key_by
from harness.run_files import check_distinct
from harness.send import Route

OUT_HELP = "output JSONL (default: results/overton/coverage/<model>__<judge>.jsonl)"


def build_parser(doc: str | None = __doc__, responses: bool = True,
                 out_help: str = OUT_HELP) -> argparse.ArgumentParser:
    """The flags; `responses=False` (and its own --out help) for a command that makes its
    own answers file (overton_agreement.py)."""
    p = script_parser(doc)
    p.add_argument("--judge", required=True, help="registry name of the judge model")
    if responses:
        p.add_argument("--responses", type=Path, required=True,
                       help="JSONL from create_overton_responses.py")
    p.add_argument("--judge-mode", choices=MODES, default="json",
                   help="json: a yes/no JSON answer parsed from text (unreadable ones asked "
                        "again; any provider); probs: P(yes) read from the judge's Yes/No "
                        "token probabilities, one short call per option (local, OpenAI, "
                        "Gemini); covered means P(yes) > 0.5")
    p.add_argument("--out", type=Path, help=out_help)
    p.add_argument("--prompts", type=Path,
                   help="the judge's wording (default: prompts/overton.json)")
    p.add_argument("--max-reparse", type=int, default=2,
                   help="times an unreadable JSON answer is asked again (default 2)")
    add_model_arguments(p, whose="judge model")
    add_request_arguments(p, what="calls", counts="judge calls")
    p.add_argument("--temperature", type=float, default=0.0, help="judge temperature (default 0)")
    p.add_argument("--max-tokens", type=positive(int),
                   help="JSON judge's reply budget (default: 32)")
    p.add_argument("--batch-size", type=positive(int),
                   help="prompts per forward pass for a local judge (default 8)")
    p.add_argument("--limit", type=positive(int), help="only the first N answers")
    add_batch_arguments(p, sends="JSON judge calls (and each round of re-asks)", what="calls")
    return p


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Judge `args.responses` as the flags say; the exit status."""
    if args.max_reparse < 0:
        raise UserError(f"--max-reparse must be 0 or more, got {args.max_reparse}")
    spec = get_spec(args.judge, load_registry(args.registry))
    check_flags(spec, model=args.model, base_url=args.base_url)
    if (args.status or args.cancel) and not args.batch_api:
        raise UserError("--status and --cancel manage batches: add --batch-api")
    probs = args.judge_mode == "probs"
    where = check_probs_judge(spec, batch_api=args.batch_api) if probs else "send"
    if args.batch_api:
        check_batch_backend(spec)
    rubric = load_rubric(args.prompts)
    set_aside(args, args.responses)
    responses = load_responses(args.responses)
    responses.sort(key=lambda r: (r["item_id"], r.get("sample", 0)))
    if args.limit is not None:
        responses = responses[:args.limit]
    out = args.out or default_out(responses, args.responses, spec.name, args.judge_mode)
    calls = calls_path(out)
    check_distinct({"--out": out, "the calls file beside --out": calls,
                    "--responses": args.responses,
                    "--cache": None if args.no_cache else args.cache,
                    "--prompts": args.prompts, "--registry": args.registry},
                   sqlite=("--cache",))
    set_aside(args, calls)
    if args.status or args.cancel:
        manage = batch_cancel if args.cancel else batch_status
        print(manage(spec, calls, model=args.model, base_url=args.base_url,
                     timeout_s=args.timeout).format())
        return 0
    prompts = build_coverage_prompts(responses, rubric, args.judge_mode)
    failed = sum(1 for r in responses if r.get("error"))
    if failed:
        print(f"note: {failed} answer rows hold errors and are not judged; rerun "
              "create_overton_responses.py with --retry-errors, then this command")
    params = (api_params(spec) if where == "api" and probs else
              spec.params(temperature=args.temperature, max_tokens=args.max_tokens or 32))
    options = request_options(args, spec, desc=f"coverage {spec.name}")
    judge_model = args.model or spec.model_id
    if args.dry_run:
        print(f"judge: {spec.name} ({judge_model}), {args.judge_mode} mode; {len(prompts)} "
              "judge calls (one per option, and one per answer asking whether it refuses); "
              f"output: {out}")
        if where == "local":
            local_stale(spec, prompts, done_rows(calls, key_by(*CALL_KEY)), calls,
                        model=args.model, redo_stale=args.redo_stale)
            print("estimated cost: none (a local model; one forward pass per call)")
        else:
            print(dry_run(spec, prompts, calls, params, retry_errors=args.retry_errors,
                          rpm=options.rpm, tpm=options.tpm, model=args.model,
                          redo_stale=args.redo_stale).format())
            if not probs:
                print(f"re-asks of unreadable answers (up to {args.max_reparse} each) come on "
                      "top")
        return 0
    if spec.demo_only:
        print(f"note: {spec.name} is a demonstration judge; its labels measure nothing")
    local = adapter_class(spec).local
    if where == "local":
        n = run_local_probs(spec, prompts, calls, model=args.model,
                            batch_size=args.batch_size or 8, progress=not args.no_progress,
                            redo_stale=args.redo_stale)
        print(f"scored now: {n}; skipped as already done: {len(prompts) - n}")
    else:
        route = Route(spec, model=args.model, base_url=args.base_url, timeout_s=args.timeout,
                      backend_options={"batch_size": args.batch_size or 8} if local else {},
                      workers=args.workers, batch=None if probs else batch_options(args))
        if probs:
            print(run_api_probs(route, prompts, calls, options).format())
            check_logprobs_given(calls, spec)
        else:
            print(run_json_judge(route, prompts, calls, params, options, rubric,
                                 args.max_reparse).format())
    rows = write_coverage(out, calls, responses, mode=args.judge_mode, judge=spec.name,
                          judge_model=judge_model, prompts_path=rubric.path,
                          judge_demo_only=spec.demo_only)
    status = Counter(r["status"] for r in rows)
    print("coverage: " + ", ".join(f"{k} {v}" for k, v in sorted(status.items()))
          + f" ({len(rows)} answers)")
    if any(status[s] for s in NOT_SCORED):
        print("refused, blocked and empty answers are kept with their status and left out "
              "of the Overton score (the analysis counts them)")
    print(f"results: {out}")
    return rows_failed_status(status["error"], "answer(s) with failed judge calls")
