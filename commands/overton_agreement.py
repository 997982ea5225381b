"""A coverage judge's agreement with our labelled response-option pairs: run it first.

    python scripts/overton_agreement.py --judge gpt-4o
    python scripts/overton_agreement.py --judge gpt-4o --judge-mode probs
    python scripts/overton_agreement.py --judge smollm2-135m-instruct --judge-mode probs
    python scripts/overton_agreement.py --judge gpt-4o --dry-run

Judges the answers of prompts/overton_labelled.json (ours: clear yes, clear no and hard
cases) with annotate_overton.py's machinery and prints accuracy and Cohen's kappa, each with a
95 % bootstrap interval over answers, overall and on the clear and hard pairs. Every flag
annotate_overton.py takes but --responses (--judge-mode, --model, --base-url, --max-reparse,
--rpm, --no-cache ...) works the same here. Rerunning resumes.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from annotations.coverage_agreement import agreement, answer_rows, format_agreement, load_labelled
from commands.annotate_overton import build_parser as build_annotate_parser
from commands.annotate_overton import run as run_judge
from core.files import write_json_atomic, write_jsonl_atomic
from core.paths import REPO_ROOT
from harness.results import read_jsonl

AGREEMENT_DIR = REPO_ROOT / "results" / "overton" / "agreement"


def build_parser() -> argparse.ArgumentParser:
    p = build_annotate_parser(__doc__, responses=False, out_help=(
        "the judge's coverage rows (default: results/overton/agreement/<judge>[-probs].jsonl); "
        "its answers and the agreement (.agreement.json) go beside it"))
    p.add_argument("--labelled", type=Path,
                   help="labelled set (default: prompts/overton_labelled.json)")
    p.add_argument("--reps", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    labelled = load_labelled(args.labelled)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", args.judge) + (
        "-probs" if args.judge_mode == "probs" else "")
    out = args.out or AGREEMENT_DIR / f"{name}.jsonl"
    args.out = out
    if args.dry_run:  # a dry run writes nothing: the answers go to a scratch folder
        with tempfile.TemporaryDirectory() as scratch:
            args.responses = Path(scratch) / "answers.jsonl"
            write_jsonl_atomic(args.responses, answer_rows(labelled))
            return run_judge(args)
    args.responses = out.with_name(out.name.removesuffix(".jsonl") + ".answers.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(args.responses, answer_rows(labelled))
    code = run_judge(args)
    if not out.exists():
        return code
    result = agreement(labelled, list(read_jsonl(out)), reps=args.reps, seed=args.seed)
    report = out.with_name(out.name.removesuffix(".jsonl") + ".agreement.json")
    write_json_atomic(report, result)
    print(format_agreement(result))
    print(f"agreement: {report}")
    return code
