"""Collect model responses to the test set into results/generations/<backend>.jsonl.

    python scripts/generate.py --list
    python scripts/generate.py --backend smollm2-135m-instruct --sample 5 --seed 0
    python scripts/generate.py --backend gpt-4o --dry-run
    python scripts/generate.py --backend gpt-4o --batch-api      # about half the price
    python scripts/generate.py --backend gpt-4o --batch-api --status   # or --cancel
    python scripts/generate.py --backend openai-compatible \\
        --model meta-llama/Llama-3.3-70B-Instruct --base-url http://localhost:8000/v1

Rerunning the same command resumes: an (id, sample) row is skipped as done only if it was
made from the same request (backend, model, prompt text, settings); an output holding rows
made from another stops the run (--redo-stale redoes them).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from backends.registry import adapter_class, check_flags, format_registry, get_spec, load_registry
from core.errors import UserError
from harness.batch import check_batch_backend
from harness.batch_manage import batch_cancel, batch_status
from harness.cli import positive, rows_failed_status, script_parser, set_aside
from harness.request_cli import (
    add_batch_arguments,
    add_model_arguments,
    add_request_arguments,
    batch_options,
    request_options,
)
from harness.results import key_by, not_done
from harness.run_files import check_distinct
from harness.send import dry_run
from neutrality.generate import (
    DEFAULT_PROMPTS,
    ROW_KEY,
    build_requests,
    default_out,
    run_generation,
)
from neutrality.prompt_set import load_prompts, select_prompts

DEFAULT_BACKEND = "smollm2-135m-instruct"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--backend", default=DEFAULT_BACKEND,
                   help=f"registry name (default: {DEFAULT_BACKEND}; see --list)")
    add_model_arguments(p)
    p.add_argument("--list", action="store_true", help="print the registry and exit")
    p.add_argument("--prompts", type=Path, default=DEFAULT_PROMPTS,
                   help="CSV with id and input columns (default: Data/test_input.csv)")
    p.add_argument("--out", type=Path,
                   help="output JSONL (default: results/generations/<backend>.jsonl)")
    add_request_arguments(p)
    p.add_argument("--limit", type=positive(int), help="only the first N selected prompts")
    p.add_argument("--sample", type=positive(int), help="N wordings per task, drawn with --seed "
                   "(a viewpoint wording's Republican and Democrat prompts together)")
    p.add_argument("--seed", type=int, help="seed for --sample (default 0) and for sampling")
    p.add_argument("--tasks", help="comma-separated tasks to keep, e.g. voting_questions")
    p.add_argument("--temperature", type=float, help="default: registry (0 for most)")
    p.add_argument("--max-tokens", type=positive(int), help="default: registry")
    p.add_argument("--n-samples", type=positive(int), default=1, help="answers per prompt")
    p.add_argument("--batch-size", type=positive(int),
                   help="prompts per forward pass for local models (default 8)")
    add_batch_arguments(p, sends="the requests", what="requests")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    registry = load_registry(args.registry)
    if args.list:
        print(format_registry(registry))
        return 0
    spec = get_spec(args.backend, registry)
    check_flags(spec, model=args.model, base_url=args.base_url)
    if spec.retired:
        print(f"note: {spec.name} ({spec.model_id}) is retired by its provider; "
              f"its successor is {spec.successor}")
    rows = load_prompts(args.prompts)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    rows = select_prompts(rows, tasks=tasks, sample=args.sample, seed=args.seed or 0,
                          limit=args.limit)
    params = spec.params(temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed)
    chosen = {"tasks": tasks, "sample": args.sample, "seed": args.seed or 0, "limit": args.limit}
    selection = chosen if tasks or args.sample is not None or args.limit is not None else None
    requests = build_requests(rows, params, args.n_samples, selection)
    out = args.out or default_out(spec.name, args.model)
    check_distinct({"--out": out, "--cache": None if args.no_cache else args.cache,
                    "--prompts": args.prompts, "--registry": args.registry},
                   sqlite=("--cache",))
    set_aside(args, out)
    if (args.status or args.cancel) and not args.batch_api:
        raise UserError("--status and --cancel manage batches: add --batch-api")
    if args.batch_api:
        check_batch_backend(spec)
        if args.status or args.cancel:
            manage = batch_cancel if args.cancel else batch_status
            print(manage(spec, out, model=args.model, base_url=args.base_url,
                         timeout_s=args.timeout).format())
            return 0
    local = adapter_class(spec).local
    options = request_options(args, spec, desc=spec.name)

    if args.dry_run:
        print(f"backend: {spec.name} ({args.model or spec.model_id}); output: {out}")
        print(dry_run(spec, requests, out, ROW_KEY, params, retry_errors=args.retry_errors,
                      rpm=options.rpm, tpm=options.tpm, model=args.model,
                      redo_stale=args.redo_stale).format())
        if args.batch_api:
            print("through the batch API the provider charges about half that, with no "
                  "per-minute limits; results come within 24 h")
        return 0

    batch = batch_options(args)
    backend_options = {"batch_size": args.batch_size or 8} if local else {}
    summary = run_generation(spec, requests, out, params, options, model=args.model,
                             base_url=args.base_url, timeout_s=args.timeout,
                             backend_options=backend_options, workers=args.workers, batch=batch)
    print(summary.format())
    print(f"results: {out}")
    return rows_failed_status(not_done(out, [r.key for r in requests], key_by(*ROW_KEY)))

