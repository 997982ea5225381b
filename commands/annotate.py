"""Label each response's neutrality technique with an LLM judge, K evals per response.

    python scripts/annotate.py --judge gpt-4o --generations results/generations/llama.jsonl
    python scripts/annotate.py --judge gpt-4o --generations G.jsonl --n-evals 3 \\
        --templates Data/neutrality/study_templates.json --dry-run
    python scripts/annotate.py --judge smollm2-135m-instruct --generations G.jsonl
    python scripts/annotate.py --judge gpt-4o --generations G.jsonl --batch-api  # half price
    python scripts/annotate.py --judge gpt-4o --generations G.jsonl --judge-mode probs

Writes results/annotations/<model>__<judge>.jsonl (one row per response) and, beside it,
<...>.calls.jsonl (one row per judge call). Rerunning the same command resumes.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

from annotations.probs import WORDINGS, build_probs_prompts, load_wording
from annotations.probs_run import (
    ROW_KEY,
    check_logprobs_given,
    check_probs_judge,
    local_stale,
    probs_dry_run,
    run_api_probs,
    run_local_probs,
    write_api_rows,
)
from annotations.prompts import JudgeTemplate, build_prompts, load_judge_template
from annotations.run import (
    calls_path,
    default_out,
    dry_run,
    judge_sender,
    load_generations,
    run_judge,
    write_annotations,
)
from backends.registry import BackendSpec, adapter_class, check_flags, get_spec, load_registry
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
from harness.results import key_by, read_jsonl
from harness.run_files import check_distinct
from harness.send import Route


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--judge", required=True, help="registry name of the judge model")
    p.add_argument("--generations", type=Path, required=True, help="JSONL from generate.py")
    p.add_argument("--judge-mode", choices=("json", "probs"), default="json",
                   help="json: the study's judge (six yes/no answers and a category, parsed "
                        "from text); probs: one digit 1-6 read from the judge's token "
                        "probabilities, one short call per response (local, OpenAI, Gemini)")
    p.add_argument("--probs-wording", choices=WORDINGS, default="ours",
                   help="the probability judge's ask: ours, or the study's follow-up question")
    p.add_argument("--n-evals", type=positive(int), default=1, help="judge prompts per response")
    p.add_argument("--out", type=Path,
                   help="output JSONL (default: results/annotations/<model>__<judge>.jsonl)")
    p.add_argument("--max-reparse", type=int, default=2,
                   help="times an unreadable answer is asked again (default 2)")
    p.add_argument("--templates", type=Path,
                   help="judge template (default: prompts/judge_template.json; the study's "
                        "study_templates.json reproduces its prompts)")
    add_model_arguments(p, whose="judge model")
    add_request_arguments(p, what="calls", counts="judge calls")
    p.add_argument("--temperature", type=float, default=0.0, help="judge temperature (default 0)")
    p.add_argument("--max-tokens", type=positive(int), help="default: the judge's registry entry")
    p.add_argument("--batch-size", type=positive(int),
                   help="prompts per forward pass for a local judge (default 8)")
    p.add_argument("--limit", type=positive(int), help="only the first N responses (by id)")
    add_batch_arguments(p, sends="judge calls (and each round of re-asks)", what="calls")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.max_reparse < 0:
        raise UserError(f"--max-reparse must be 0 or more, got {args.max_reparse}")
    spec = get_spec(args.judge, load_registry(args.registry))
    check_flags(spec, model=args.model, base_url=args.base_url)
    if (args.status or args.cancel) and not args.batch_api:
        raise UserError("--status and --cancel manage batches: add --batch-api")
    if args.batch_api:
        check_batch_backend(spec)
    template = load_judge_template(args.templates)
    set_aside(args, args.generations)
    generations = load_generations(args.generations)
    if args.judge_mode == "probs":
        return probs_main(args, spec, template, generations)
    prompts = build_prompts(generations, template, args.n_evals)
    failed = sum(1 for r in generations if r.get("error"))
    if failed:
        print(f"note: {failed} generation rows hold errors and are not judged; rerun "
              "generate.py with --retry-errors, then this command")
    if args.limit is not None:
        keep = sorted({(p.row["id"], p.row.get("sample", 0)) for p in prompts})[:args.limit]
        prompts = [p for p in prompts if (p.row["id"], p.row.get("sample", 0)) in set(keep)]
    out = args.out or default_out(generations, args.generations, spec.name)
    calls = calls_path(out)
    check_distinct({"--out": out, "the calls file beside --out": calls,
                    "--generations": args.generations,
                    "--cache": None if args.no_cache else args.cache,
                    "--templates": args.templates, "--registry": args.registry},
                   sqlite=("--cache",))
    set_aside(args, calls)
    params = spec.params(temperature=args.temperature, max_tokens=args.max_tokens)
    local = adapter_class(spec).local
    options = request_options(args, spec, desc=f"judge {spec.name}")

    if args.status or args.cancel:
        manage = batch_cancel if args.cancel else batch_status
        print(manage(spec, calls, model=args.model, base_url=args.base_url,
                     timeout_s=args.timeout).format())
        return 0
    if args.dry_run:
        print(f"judge: {spec.name} ({args.model or spec.model_id}); {len(prompts)} judge prompts "
              f"({args.n_evals} per response); output: {out}")
        print(dry_run(spec, prompts, calls, params, args.max_reparse, args.retry_errors,
                      options.rpm, options.tpm, model=args.model,
                      redo_stale=args.redo_stale).format())
        print(f"re-asks of unreadable answers (up to {args.max_reparse} each) come on top")
        if args.batch_api:
            print("through the batch API the provider charges about half that; each round "
                  "of re-asks is one more batch")
        return 0
    if spec.demo_only:
        print(f"note: {spec.name} is a demonstration judge; its labels measure nothing")

    batch = batch_options(args)
    route = Route(spec, model=args.model, base_url=args.base_url, timeout_s=args.timeout,
                  backend_options={"batch_size": args.batch_size or 8} if local else {},
                  workers=args.workers, batch=batch)
    sender = judge_sender(route, calls, params, options)
    summary = run_judge(sender, prompts, calls, args.max_reparse)
    rows = write_annotations(out, calls, prompts, judge=spec.name,
                             judge_model=args.model or spec.model_id, template=template.path,
                             judge_demo_only=spec.demo_only)
    print(summary.format())
    status = Counter(r["parse_status"] for r in rows)
    print("annotations: " + ", ".join(f"{k} {v}" for k, v in sorted(status.items()))
          + f" ({len(rows)} responses)")
    if status["unreadable"] or status["partial"]:
        print("answers still unreadable after re-asking are kept with their raw text "
              "(parse_status, evals[].raw); --max-reparse N asks more times")
    print(f"results: {out}")
    # a response with any failed judge call (status error, or partial beside readable ones)
    failed = sum(any(e["parse_status"] == "error" for e in r["evals"]) for r in rows)
    return rows_failed_status(failed, "judge call(s) of response(s)")


def probs_main(args: argparse.Namespace, spec: BackendSpec, template: JudgeTemplate,
               generations: list[dict[str, Any]]) -> int:
    """--judge-mode probs: one prompt per response, the verdict read from digit probabilities."""
    where = check_probs_judge(spec, batch_api=args.batch_api)
    if args.n_evals != 1:
        raise UserError("--n-evals is for the JSON judge; the probability judge reads one "
                        "distribution per response: drop --n-evals")
    prompts = build_probs_prompts(generations, template, load_wording(args.probs_wording))
    if args.limit is not None:
        keep = set(sorted((p.row["id"], p.row.get("sample", 0)) for p in prompts)[:args.limit])
        prompts = [p for p in prompts if (p.row["id"], p.row.get("sample", 0)) in keep]
    out = args.out or default_out(generations, args.generations, spec.name)
    calls = calls_path(out)
    options = request_options(args, spec, desc=f"judge {spec.name}")
    judge_model = args.model or spec.model_id
    if args.dry_run:
        print(f"judge: {spec.name} ({judge_model}), probability mode; {len(prompts)} prompts "
              f"(one per response); output: {out}")
        if where == "local":
            local_stale(spec, prompts, done_rows(out, key_by(*ROW_KEY)), out,
                        judge_model=judge_model, redo_stale=args.redo_stale)
            print("estimated cost: none (a local model; one forward pass per response)")
        else:
            print(probs_dry_run(spec, prompts, calls, args.retry_errors, options.rpm,
                                options.tpm, model=args.model,
                                redo_stale=args.redo_stale).format())
            print("one output token per response and no re-asks")
        return 0
    if spec.demo_only:
        print(f"note: {spec.name} is a demonstration judge; its labels measure nothing")
    if where == "local":
        n = run_local_probs(spec, prompts, out, judge_model=judge_model, template=template.path,
                            batch_size=args.batch_size or 8, model=args.model,
                            progress=not args.no_progress, redo_stale=args.redo_stale)
        rows = [r for r in read_jsonl(out)] if out.exists() else []
        print(f"scored now: {n}; skipped as already done: {len(prompts) - n}")
    else:
        print(run_api_probs(spec, prompts, calls, options, model=args.model,
                            base_url=args.base_url, timeout_s=args.timeout).format())
        check_logprobs_given(calls, spec)
        rows = write_api_rows(out, calls, prompts, judge=spec.name, judge_model=judge_model,
                              template=template.path, judge_demo_only=spec.demo_only)
    status = Counter(r["parse_status"] for r in rows)
    print("annotations: " + ", ".join(f"{k} {v}" for k, v in sorted(status.items()))
          + f" ({len(rows)} responses)")
    if status["unreadable"]:
        print("some answers listed no digit among the top tokens (parse_status unreadable); "
              "check judge_input and top_logprobs, or use --judge-mode json")
    flagged = [r for r in rows if r.get("missing_digits")]
    if flagged:
        print(f"{len(flagged)} answer(s) listed fewer than the six digits among the top "
              "log-probabilities (flag missing_digits): the absent digits count 0, and held "
              f"at most {max(r['missing_digit_mass_max'] for r in flagged):.4f} of "
              "probability in any one answer (missing_digit_mass_max)")
    print(f"results: {out}")
    failed = rows_failed_status(status["error"], "judge call(s)")
    return failed or (1 if status["unreadable"] else 0)

