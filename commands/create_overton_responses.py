"""Ask each GlobalOpinionQA question without its options, for Overton pluralism (one row each).

    python scripts/create_overton_responses.py --backend gpt-4o --countries "United States,Japan"
    python scripts/create_overton_responses.py --backend gpt-4o --dry-run
    python scripts/create_overton_responses.py --backend gpt-4o --batch-api   # about half price
    python scripts/create_overton_responses.py --backend smollm2-135m-instruct --limit 20

Items are the collection's kept items (every country in --countries answered them). Each row
records the model that answered, the text asked (`input`), the item's `options` and each
country's shares (`human`). Rows go to results/overton/<backend>.jsonl (or --out); rerunning
the same command resumes. Judge them with annotate_overton.py; see docs/overton.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from backends.registry import load_registry
from commands.answers import add_answer_arguments, answering_spec, send_answers
from harness.cli import positive, script_parser, set_aside
from harness.request_cli import (
    add_model_arguments,
    add_request_arguments,
)
from harness.run_files import check_distinct
from pluralism.globalqa import DEFAULT_COUNTRIES, load_globalqa_items, resolve_globalqa_path
from pluralism.overton import ROW_KEY, build_requests, default_out, load_overton_prompts
from pluralism.prompts import load_templates

DEFAULT_BACKEND = "smollm2-135m-instruct"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--backend", default=DEFAULT_BACKEND,
                   help=f"registry name (default: {DEFAULT_BACKEND}; see generate.py --list)")
    add_model_arguments(p)
    p.add_argument("--data_dir", "--data-dir", dest="data_dir",
                   help="GlobalOpinionQA CSV or Parquet, or a folder holding global_opinions.csv "
                        "(default: Data/pluralism/global_opinions.csv, else the Hugging Face hub)")
    p.add_argument("--countries", default=",".join(DEFAULT_COUNTRIES),
                   help="comma-separated countries whose answers every kept item has "
                        f"(default: {','.join(DEFAULT_COUNTRIES)})")
    p.add_argument("--prompts", type=Path,
                   help="our wording of the ask and the judge (default: prompts/overton.json)")
    p.add_argument("--out", type=Path,
                   help="output JSONL (default: results/overton/<backend>.jsonl)")
    add_request_arguments(p)
    p.add_argument("--limit", type=positive(int), help="only the first N kept items")
    p.add_argument("--seed", type=int, help="seed for sampling (where the provider takes one)")
    add_answer_arguments(p, per="question")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spec = answering_spec(args, load_registry(args.registry))
    prompts = load_overton_prompts(args.prompts)
    countries = [c.strip() for c in args.countries.split(",") if c.strip()]
    path = resolve_globalqa_path(args.data_dir, download=not args.dry_run)
    # the collection's kept items: the same filter, the same limit on the number of options
    items, report = load_globalqa_items(path, countries,
                                        max_options=len(load_templates().globalqa.labels))
    print(report.format())
    items = items[:args.limit] if args.limit else items
    params = spec.params(temperature=args.temperature, max_tokens=args.max_tokens,
                         seed=args.seed)
    requests = build_requests(items, prompts, params, args.n_samples)
    out = args.out or default_out(spec.name, args.model)
    check_distinct({"--out": out, "--cache": None if args.no_cache else args.cache,
                    "--data_dir": path, "--prompts": args.prompts,
                    "--registry": args.registry}, sqlite=("--cache",))
    set_aside(args, out)
    return send_answers(args, spec, requests, out, ROW_KEY, params,
                        desc=f"overton {spec.name}",
                        about=f"{len(items)} questions asked without their options; ")
