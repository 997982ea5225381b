"""The flags of the scripts that send requests (generate.py, annotate.py and the distribution
collection), and the RunOptions they make: one definition, so every script takes the same
flags with the same defaults."""

from __future__ import annotations

import argparse
from pathlib import Path

from backends.registry import BackendSpec, adapter_class
from harness.batch_state import FAILED_POLICIES, BatchOptions
from harness.cache import DEFAULT_CACHE
from harness.cli import add_set_aside_argument, positive
from harness.limits import DEFAULT_MAX_IN_FLIGHT
from harness.request import REDO_STALE_FLAG, RunOptions
from harness.workers import check_workers


def add_model_arguments(p: argparse._ActionsContainer, *, whose: str = "model") -> None:
    """--model, --base-url and --registry: which model of a registry entry is sent, where."""
    p.add_argument("--model", help=f"{whose} id to send instead of the registry's")
    p.add_argument("--base-url", help="API base URL (proxies, OpenAI-compatible servers)")
    p.add_argument("--registry", type=Path, help="extra registry JSON merged over the shipped one")


def add_request_arguments(p: argparse._ActionsContainer, *, what: str = "rows",
                          always_redone: bool = False, counts: str = "requests") -> None:
    """--dry-run, --concurrency, --workers, --rpm, --tpm, --max-attempts, --retry-errors,
    --redo-stale, the cache flags, --timeout and --no-progress; `counts` names what a dry
    run counts, `what` what --retry-errors redoes, and `always_redone` says a rerun redoes
    them anyway (the collection)."""
    p.add_argument("--dry-run", action="store_true",
                   help=f"count {counts}, estimate tokens and cost, send nothing")
    p.add_argument("--concurrency", type=positive(int),
                   help=f"most requests in flight (default {DEFAULT_MAX_IN_FLIGHT}, grown to "
                        "what the rate limits and the latency need; 1 for local models)")
    p.add_argument("--workers", type=positive(int), default=1,
                   help="processes making the API calls (default 1); more only when one CPU "
                        "core cannot keep up, e.g. a fast local vLLM server")
    p.add_argument("--rpm", type=positive(float),
                   help="requests per minute (default: what the provider announces, else the "
                        "registry's)")
    p.add_argument("--tpm", type=positive(float),
                   help="tokens per minute (default: what the provider announces, else the "
                        "registry's)")
    p.add_argument("--max-attempts", type=positive(int), default=6)
    p.add_argument("--retry-errors", action="store_true",
                   help=f"redo {what} that hold an error"
                        + (" (a rerun always does)" if always_redone else ""))
    p.add_argument(REDO_STALE_FLAG, action="store_true",
                   help="redo the rows of the output made from another request (another "
                        "model, prompt text or settings) instead of stopping; rows this run "
                        "does not ask for are removed, so the file holds one run")
    p.add_argument("--no-cache", action="store_true", help="bypass the SQLite response cache")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="response cache file")
    p.add_argument("--timeout", type=positive(float), default=120.0, help="seconds per request")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_set_aside_argument(p)


def request_options(args: argparse.Namespace, spec: BackendSpec, *, desc: str) -> RunOptions:
    """The flags as RunOptions: the registry's rate limits for API models until the provider
    announces the account's own (a limit given as a flag stays), none for local ones, which
    also default to one request at a time. Refuses a --workers that cannot help."""
    check_workers(spec, args.workers, batch_api=getattr(args, "batch_api", False))
    local = adapter_class(spec).local
    return RunOptions(
        concurrency=args.concurrency or (1 if local else DEFAULT_MAX_IN_FLIGHT),
        rpm=args.rpm if args.rpm is not None else (None if local else spec.rpm),
        tpm=args.tpm if args.tpm is not None else (None if local else spec.tpm),
        learn_rpm=args.rpm is None, learn_tpm=args.tpm is None,
        max_attempts=args.max_attempts, retry_errors=args.retry_errors,
        redo_stale=args.redo_stale,
        cache_path=None if args.no_cache else args.cache, progress=not args.no_progress,
        desc=desc, price_per_1m=spec.price_per_1m,
    )


def add_batch_arguments(p: argparse.ArgumentParser, *, sends: str, what: str) -> None:
    """--batch-api, --batch-failed, --poll-interval, --status and --cancel; `sends` says what
    --batch-api sends, `what` names the requests a batch may leave unanswered."""
    b = p.add_argument_group("provider batch APIs (OpenAI, Anthropic; about half the price)")
    b.add_argument("--batch-api", action="store_true",
                   help=f"send {sends} through the provider's batch API; a rerun polls what was "
                        "submitted")
    b.add_argument("--batch-failed", choices=FAILED_POLICIES, default="rebatch",
                   help=f"{what} a batch did not answer: a new batch (default), the online "
                        "path, or keep them as error rows")
    b.add_argument("--poll-interval", type=positive(float), default=30.0,
                   help="first wait between polls in seconds (grows to 10 min)")
    b.add_argument("--status", action="store_true", help="print our batches' state and exit")
    b.add_argument("--cancel", action="store_true", help="cancel our running batches and exit")


def batch_options(args: argparse.Namespace) -> BatchOptions | None:
    """The batch flags as BatchOptions; None without --batch-api (online)."""
    if not args.batch_api:
        return None
    return BatchOptions(failed=args.batch_failed, poll_initial_s=args.poll_interval)
