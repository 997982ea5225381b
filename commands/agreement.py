"""Agreement of judges' labels: within one judge's K evals, between two judges, or with humans.

    python scripts/agreement.py results/annotations/m__gpt-4o.jsonl            # Fleiss' kappa
    python scripts/agreement.py A.jsonl B.jsonl                 # two judges, same responses
    python scripts/agreement.py m__j.jsonl m__j-probs.jsonl     # JSON vs probability mode
    python scripts/agreement.py A.jsonl --human labels.csv      # CSV with columns id,label

Two raters get Cohen's kappa, Krippendorff's alpha and a confusion matrix; every statistic
has a bootstrap 95 % CI over source items (a statement with all its wordings and samples,
drawn together), none below 5 items. Responses a rater left unreadable are left out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from annotations.agreement import (
    eval_ratings,
    evals_agreement,
    final_labels,
    human_labels,
    judge_mode,
    pair_agreement,
    shared_labels,
    source_items,
)
from annotations.parse import CATEGORIES
from core.errors import UserError
from harness.cli import script_parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("annotations", type=Path, nargs="+",
                   help="one annotation JSONL (its evals), or two (two judges)")
    p.add_argument("--human", type=Path, help="CSV of human labels: id,label (and sample)")
    p.add_argument("--reps", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--out", type=Path, help="also write the results as JSON")
    return p.parse_args(argv)


def _ci_text(result: dict, key: str) -> str:
    """'95% CI 0.41 to 0.62 over 30 source items', or why there is none."""
    lo, hi = result[key + "_ci"]
    if lo != lo:  # NaN
        return result[key + "_ci_note"]
    return f"95% CI {lo:.3f} to {hi:.3f} over {result['n_items']} source items"


def format_pair(result: dict, names: tuple[str, str]) -> str:
    lines = [f"responses labelled by both: {result['n']}",
             f"percent agreement: {result['percent_agreement']:.3f}"]
    for key, title in (("cohen_kappa", "Cohen's kappa"),
                       ("krippendorff_alpha", "Krippendorff's alpha")):
        lines.append(f"{title}: {result[key]:.3f} ({_ci_text(result, key)})")
    short = [c[:12] for c in result["categories"]]
    lines.append(f"confusion matrix (rows: {names[0]}, columns: {names[1]})")
    lines.append(" " * 13 + " ".join(f"{s:>12}" for s in short))
    for s, row in zip(short, result["confusion"], strict=True):
        lines.append(f"{s:<13}" + " ".join(f"{v:>12}" for v in row))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    files = args.annotations
    if len(files) > 2 or (args.human and len(files) != 1):
        raise UserError("give one annotation file (its evals, or with --human) or two (judges)")
    if len(files) == 1 and not args.human:
        if judge_mode(files[0]) == "probs":
            raise UserError(
                f"{files[0]} is a probability judge's file: one verdict per response, no evals "
                "to compare with each other; give a second file on the same responses (e.g. "
                f"the JSON judge's: agreement.py JSON.jsonl {files[0]}) or --human labels.csv")
        by_key, dropped = eval_ratings(files[0])
        if not by_key:
            raise UserError(f"{files[0]}: no response has all its evals readable")
        items = source_items(files[0])
        result = evals_agreement(list(by_key.values()), reps=args.reps, seed=args.seed,
                                 clusters=[items.get(k, k) for k in by_key])
        print(f"responses: {result['n']} ({dropped} left out: an eval unreadable); "
              f"evals each: {result['raters']}")
        print(f"Fleiss' kappa: {result['fleiss_kappa']:.3f} "
              f"({_ci_text(result, 'fleiss_kappa')})")
    else:
        a = final_labels(files[0])
        b = human_labels(args.human) if args.human else final_labels(files[1])
        names = (f"{files[0].stem} ({judge_mode(files[0])})",
                 "human" if args.human else f"{files[1].stem} ({judge_mode(files[1])})")
        labels_a, labels_b = shared_labels(a, b)
        only = len(set(a) ^ set(b))
        if only:
            print(f"responses labelled (readably) by one side only, left out: {only}")
        items = {**({} if args.human else source_items(files[1])), **source_items(files[0])}
        keys = sorted(set(a) & set(b))  # shared_labels' order
        result = pair_agreement(labels_a, labels_b, CATEGORIES, reps=args.reps, seed=args.seed,
                                clusters=[items.get(k, k) for k in keys])
        print(format_pair(result, names))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    return 0

