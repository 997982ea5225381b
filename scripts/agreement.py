"""Agreement of judges' labels: within one judge's K evals, between two judges, or with humans.

    python scripts/agreement.py results/annotations/m__gpt-4o.jsonl            # Fleiss' kappa
    python scripts/agreement.py A.jsonl B.jsonl                 # two judges, same responses
    python scripts/agreement.py A.jsonl --human labels.csv      # CSV with columns id,label

Two raters get Cohen's kappa, Krippendorff's alpha and a confusion matrix; every statistic
has a bootstrap 95 % CI over responses. Responses a rater left unreadable are left out.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

from annotations.agreement import evals_agreement, pair_agreement
from annotations.parse import CATEGORIES, category_name
from harness.cli import run_main
from harness.errors import UserError
from harness.results import read_jsonl

Key = tuple[Any, Any]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("annotations", type=Path, nargs="+",
                   help="one annotation JSONL (its evals), or two (two judges)")
    p.add_argument("--human", type=Path, help="CSV of human labels: id,label (and sample)")
    p.add_argument("--reps", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--out", type=Path, help="also write the results as JSON")
    return p.parse_args(argv)


def final_labels(path: Path) -> dict[Key, str]:
    """(id, sample) -> the row's final category, readable rows only."""
    rows = list(read_jsonl(path))
    if not rows or "final_category" not in rows[0]:
        raise UserError(f"{path} is not an annotation file; pass output of scripts/annotate.py")
    return {(r["id"], r.get("sample", 0)): r["final_category"] for r in rows
            if r.get("final_category")}


def eval_labels(path: Path) -> tuple[list[list[str]], int]:
    """Per response, the K evals' categories; responses missing a readable eval are left out."""
    rows = list(read_jsonl(path))
    if not rows or "evals" not in rows[0]:
        raise UserError(f"{path} is not an annotation file; pass output of scripts/annotate.py")
    k = max(len(r["evals"]) for r in rows)
    if k < 2:
        raise UserError(f"{path} has one eval per response; rerun annotate.py with "
                        "--n-evals 3 (or more) to measure agreement between evals")
    full = [[e["final"] for e in r["evals"]] for r in rows]
    kept = [f for f in full if len(f) == k and all(f)]
    return kept, len(full) - len(kept)


def human_labels(path: Path) -> dict[Key, str]:
    """(id, sample) -> category from a CSV of id,label[,sample]; labels as names or 1-6."""
    if not path.is_file():
        raise UserError(f"human label file {path} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not {"id", "label"} <= set(reader.fieldnames or []):
            raise UserError(f"{path} needs columns id and label")
        out = {}
        for n, row in enumerate(reader, start=2):
            label = category_name(row["label"])
            if label is None:
                raise UserError(f"{path} line {n}: label {row['label']!r} is not a category; use "
                                "1-6 or one of " + ", ".join(CATEGORIES))
            try:
                key = (int(row["id"]), int(row.get("sample") or 0))
            except ValueError as exc:
                raise UserError(f"{path} line {n}: id and sample must be integers") from exc
            out[key] = label
    return out


def format_pair(result: dict, names: tuple[str, str]) -> str:
    lines = [f"responses labelled by both: {result['n']}",
             f"percent agreement: {result['percent_agreement']:.3f}"]
    for key, title in (("cohen_kappa", "Cohen's kappa"),
                       ("krippendorff_alpha", "Krippendorff's alpha")):
        lo, hi = result[key + "_ci"]
        lines.append(f"{title}: {result[key]:.3f} (95% CI {lo:.3f} to {hi:.3f})")
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
        ratings, dropped = eval_labels(files[0])
        if not ratings:
            raise UserError(f"{files[0]}: no response has all its evals readable")
        result = evals_agreement(ratings, reps=args.reps, seed=args.seed)
        lo, hi = result["fleiss_kappa_ci"]
        print(f"responses: {result['n']} ({dropped} left out: an eval unreadable); "
              f"evals each: {result['raters']}")
        print(f"Fleiss' kappa: {result['fleiss_kappa']:.3f} (95% CI {lo:.3f} to {hi:.3f})")
    else:
        a = final_labels(files[0])
        b = human_labels(args.human) if args.human else final_labels(files[1])
        names = (files[0].stem, "human" if args.human else files[1].stem)
        both = sorted(set(a) & set(b))
        if not both:
            raise UserError("the two label sets share no (id, sample) with a readable label")
        result = pair_agreement([a[k] for k in both], [b[k] for k in both], CATEGORIES,
                                reps=args.reps, seed=args.seed)
        print(format_pair(result, names))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    run_main(main)
