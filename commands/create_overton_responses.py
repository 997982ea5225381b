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

from backends.registry import adapter_class, check_flags, get_spec, load_registry
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
from harness.send import Route, dry_run, send_requests
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
    p.add_argument("--temperature", type=float, help="default: registry (0 for most)")
    p.add_argument("--max-tokens", type=positive(int), help="default: registry")
    p.add_argument("--n-samples", type=positive(int), default=1, help="answers per question")
    p.add_argument("--batch-size", type=positive(int),
                   help="prompts per forward pass for local models (default 8)")
    add_batch_arguments(p, sends="the requests", what="requests")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spec = get_spec(args.backend, load_registry(args.registry))
    check_flags(spec, model=args.model, base_url=args.base_url)
    if spec.retired:
        print(f"note: {spec.name} ({spec.model_id}) is retired by its provider; "
              f"its successor is {spec.successor}")
    if (args.status or args.cancel) and not args.batch_api:
        raise UserError("--status and --cancel manage batches: add --batch-api")
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
    if args.batch_api:
        check_batch_backend(spec)
        if args.status or args.cancel:
            manage = batch_cancel if args.cancel else batch_status
            print(manage(spec, out, model=args.model, base_url=args.base_url,
                         timeout_s=args.timeout).format())
            return 0
    options = request_options(args, spec, desc=f"overton {spec.name}")
    if args.dry_run:
        print(f"backend: {spec.name} ({args.model or spec.model_id}); {len(items)} questions "
              f"asked without their options; output: {out}")
        print(dry_run(spec, requests, out, ROW_KEY, params, retry_errors=args.retry_errors,
                      rpm=options.rpm, tpm=options.tpm, model=args.model,
                      redo_stale=args.redo_stale).format())
        if args.batch_api:
            print("through the batch API the provider charges about half that, with no "
                  "per-minute limits; results come within 24 h")
        return 0
    local = adapter_class(spec).local
    route = Route(spec, model=args.model, base_url=args.base_url, timeout_s=args.timeout,
                  backend_options={"batch_size": args.batch_size or 8} if local else {},
                  workers=args.workers, batch=batch_options(args))
    print(send_requests(route, requests, out, ROW_KEY, params, options).format())
    print(f"results: {out}")
    return rows_failed_status(not_done(out, [r.key for r in requests], key_by(*ROW_KEY)))
