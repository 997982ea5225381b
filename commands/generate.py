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

from backends.registry import format_registry, load_registry
from commands.answers import add_answer_arguments, answering_spec, send_answers
from harness.cli import positive, script_parser, set_aside
from harness.request_cli import (
    add_model_arguments,
    add_request_arguments,
)
from harness.run_files import check_distinct
from neutrality.generate import (
    DEFAULT_PROMPTS,
    ROW_KEY,
    build_requests,
    default_out,
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
    add_answer_arguments(p, per="prompt")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    registry = load_registry(args.registry)
    if args.list:
        print(format_registry(registry))
        return 0
    spec = answering_spec(args, registry)
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
    return send_answers(args, spec, requests, out, ROW_KEY, params, desc=spec.name)
