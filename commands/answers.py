"""What the commands that ask one question per prompt into one results file share
(generate.py, create_overton_responses.py): their answer flags, the backend they name, and
the end of their run: managing batches, the dry run's price, the run and its exit status."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from backends.base import GenerationParams
from backends.registry import BackendSpec, adapter_class, check_flags, get_spec
from core.errors import UserError
from harness.batch import check_batch_backend
from harness.batch_manage import batch_cancel, batch_status
from harness.cli import positive, rows_failed_status
from harness.request import Request
from harness.request_cli import add_batch_arguments, batch_options, request_options
from harness.results import key_by, not_done
from harness.send import Route, dry_run, send_requests

BATCH_NOTE = ("through the batch API the provider charges about half that, with no "
              "per-minute limits; results come within 24 h")


def add_answer_arguments(p: argparse.ArgumentParser, *, per: str) -> None:
    """--temperature, --max-tokens, --n-samples (answers per `per`), --batch-size, and the
    batch API's flags."""
    p.add_argument("--temperature", type=float, help="default: registry (0 for most)")
    p.add_argument("--max-tokens", type=positive(int), help="default: registry")
    p.add_argument("--n-samples", type=positive(int), default=1, help=f"answers per {per}")
    p.add_argument("--batch-size", type=positive(int),
                   help="prompts per forward pass for local models (default 8)")
    add_batch_arguments(p, sends="the requests", what="requests")


def answering_spec(args: argparse.Namespace, registry: dict[str, BackendSpec]) -> BackendSpec:
    """The backend `--backend` names, its flags checked (before any file is read), a retired
    model named with its successor; --status/--cancel need --batch-api."""
    spec = get_spec(args.backend, registry)
    check_flags(spec, model=args.model, base_url=args.base_url)
    if spec.retired:
        print(f"note: {spec.name} ({spec.model_id}) is retired by its provider; "
              f"its successor is {spec.successor}")
    if (args.status or args.cancel) and not args.batch_api:
        raise UserError("--status and --cancel manage batches: add --batch-api")
    return spec


def send_answers(args: argparse.Namespace, spec: BackendSpec, requests: Sequence[Request],
                 out: Path, key: tuple[str, ...], params: GenerationParams, *, desc: str,
                 about: str = "") -> int:
    """Manage the batches (--status, --cancel), price (--dry-run) or send `requests` into
    `out`; returns the exit status (3 while rows failed). `about` goes in the dry run's
    first line."""
    requests = list(requests)
    if args.batch_api:
        check_batch_backend(spec)
        if args.status or args.cancel:
            manage = batch_cancel if args.cancel else batch_status
            print(manage(spec, out, model=args.model, base_url=args.base_url,
                         timeout_s=args.timeout).format())
            return 0
    options = request_options(args, spec, desc=desc)
    if args.dry_run:
        print(f"backend: {spec.name} ({args.model or spec.model_id}); {about}output: {out}")
        print(dry_run(spec, requests, out, key, params, retry_errors=args.retry_errors,
                      rpm=options.rpm, tpm=options.tpm, model=args.model,
                      redo_stale=args.redo_stale).format())
        if args.batch_api:
            print(BATCH_NOTE)
        return 0
    local = adapter_class(spec).local
    route = Route(spec, model=args.model, base_url=args.base_url, timeout_s=args.timeout,
                  backend_options={"batch_size": args.batch_size or 8} if local else {},
                  workers=args.workers, batch=batch_options(args))
    print(send_requests(route, requests, out, key, params, options).format())
    print(f"results: {out}")
    return rows_failed_status(not_done(out, [r.key for r in requests], key_by(*key)))
