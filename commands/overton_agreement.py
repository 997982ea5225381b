"""A coverage judge's agreement with our labelled response-option pairs: run it first.

    python scripts/overton_agreement.py --judge gpt-4o
    python scripts/overton_agreement.py --judge gpt-4o --judge-mode probs
    python scripts/overton_agreement.py --judge smollm2-135m-instruct --judge-mode probs
    python scripts/overton_agreement.py --judge gpt-4o --dry-run

Judges the answers of prompts/overton_labelled.json (ours: clear yes, clear no and hard
cases) with annotate_overton.py's machinery and prints accuracy and Cohen's kappa, each with a
95 % bootstrap interval over answers, overall and on the clear and hard pairs. Every flag
annotate_overton.py takes (--model, --base-url, --max-reparse, --rpm, --no-cache ...) passes
through. Rerunning resumes.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from annotations.coverage import MODES
from annotations.coverage_agreement import agreement, answer_rows, format_agreement, load_labelled
from commands.annotate_overton import main as annotate_main
from core.files import write_json_atomic, write_jsonl_atomic
from core.paths import REPO_ROOT
from harness.cli import script_parser
from harness.results import read_jsonl

AGREEMENT_DIR = REPO_ROOT / "results" / "overton" / "agreement"


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    p = script_parser(__doc__)
    p.add_argument("--judge", required=True, help="registry name of the judge model")
    p.add_argument("--judge-mode", choices=MODES, default="json",
                   help="as annotate_overton.py's")
    p.add_argument("--labelled", type=Path,
                   help="labelled set (default: prompts/overton_labelled.json)")
    p.add_argument("--out", type=Path,
                   help="the judge's coverage rows (default: results/overton/agreement/"
                        "<judge>[-probs].jsonl); the agreement goes beside it as .agreement.json")
    p.add_argument("--reps", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    return p.parse_known_args(argv)


def main(argv: list[str] | None = None) -> int:
    args, passed = parse_args(argv)
    labelled = load_labelled(args.labelled)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", args.judge) + (
        "-probs" if args.judge_mode == "probs" else "")
    out = args.out or AGREEMENT_DIR / f"{name}.jsonl"
    if "--dry-run" in passed:  # a dry run writes nothing: the answers go to a scratch folder
        with tempfile.TemporaryDirectory() as scratch:
            answers = Path(scratch) / "answers.jsonl"
            write_jsonl_atomic(answers, answer_rows(labelled))
            return annotate_main(["--judge", args.judge, "--judge-mode", args.judge_mode,
                                  "--responses", str(answers), "--out", str(out), *passed])
    answers = out.with_name(out.name.removesuffix(".jsonl") + ".answers.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(answers, answer_rows(labelled))
    code = annotate_main(["--judge", args.judge, "--judge-mode", args.judge_mode,
                          "--responses", str(answers), "--out", str(out), *passed])
    if not out.exists():
        return code
    result = agreement(labelled, list(read_jsonl(out)), reps=args.reps, seed=args.seed)
    report = out.with_name(out.name.removesuffix(".jsonl") + ".agreement.json")
    write_json_atomic(report, result)
    print(format_agreement(result))
    print(f"agreement: {report}")
    return code
