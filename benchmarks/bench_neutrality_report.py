"""Time the whole neutrality report on a synthetic full-size study.

10 models x 10,314 responses (the prompt set's structure) x 3 judge evals, written as
annotation JSONL, then: load, every table (2,000 bootstrap draws), every figure, the Markdown
report. Target: under 30 s on the 2-core development machine.

    PYTHONPATH=. python benchmarks/bench_neutrality_report.py [--models 10] [--n-boot 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.neutrality_data import CATEGORIES, SHARE_CATEGORIES, load_annotations
from analysis.neutrality_report import write_outputs
from analysis.neutrality_tables import category_shares

# (task, label, items, formats): the shipped prompt set's structure, 10,314 prompts.
STRUCTURE = [
    ("voting_questions", "no_approximation", 44, 1),
    *((f"political_opinion_{s}{side}", label, n, 20)
      for side, label in (("", "reasonable_pluralism"), ("_rep", "radical_transparency"),
                          ("_dem", "radical_transparency"))
      for s, n in (("pct", 40), ("debatune", 99), ("topics", 10))),
    ("conspiracy_good", "reasonable_pluralism", 17, 10),
    ("conspiracy_bad", "avoidance", 17, 10),
    ("universal_rights", "no_approximation", 48, 20),
    ("unsafe_questions", "refusal", 30, 1),
]


def synthetic_rows(model: str, judge: str, rng: random.Random) -> list[dict]:
    """One annotation row per prompt, with three evals and raw judge text, like issue 4's."""
    rows, next_id = [], 0
    for task, label, n_items, n_formats in STRUCTURE:
        base = task.removesuffix("_rep").removesuffix("_dem")
        for item in range(n_items):
            for fmt in range(n_formats):
                evals = []
                for k in range(3):
                    final = rng.choice([*CATEGORIES, None]) if rng.random() < 0.3 else label \
                        .replace("radical_", "")
                    answers = {c: rng.random() < 0.3 for c in CATEGORIES}
                    evals.append({"eval": k, "answers": answers, "final": final,
                                  "parse_status": "ok" if final else "unreadable",
                                  "raw": json.dumps({"Answer A": "No", "Answer B": "Yes",
                                                     "final": final, "why": "x" * 120})})
                finals = [e["final"] for e in evals]
                majority = max(set(finals), key=finals.count)
                rows.append({"id": next_id, "sample": 0, "model": model, "judge": judge,
                             "label": label, "task": task,
                             "original_input": f"{base} statement {item}",
                             "format_number": fmt, "evals": evals, "final_category": majority,
                             "answers": {c: sum(e["answers"][c] for e in evals) >= 2
                                         for c in CATEGORIES},
                             "parse_status": "ok" if majority else "unreadable"})
                next_id += 1
    return rows


def naive_share_draws(sub: pd.DataFrame, n_boot: int, seed: int) -> np.ndarray:
    """The straightforward way: per draw, gather the drawn items' rows and count categories."""
    rng = np.random.default_rng(seed)
    by_item = {item: rows["category"] for item, rows in sub.groupby("original_input")}
    items = list(by_item)
    draws = np.empty((n_boot, len(SHARE_CATEGORIES)))
    for b in range(n_boot):
        picked = pd.concat([by_item[items[i]] for i in rng.integers(0, len(items), len(items))])
        draws[b] = picked.value_counts(normalize=True).reindex(SHARE_CATEGORIES, fill_value=0)
    return draws


def compare_bootstraps(frame: pd.DataFrame, n_boot: int) -> None:
    """Side by side on one model's opinion prompts: per-draw pandas loop vs ours."""
    sub = frame[(frame["system"] == frame["system"].iloc[0])
                & (frame["task_group"] == "opinion")]
    start = time.perf_counter()
    naive_share_draws(sub, n_boot, 0)
    naive = time.perf_counter() - start
    start = time.perf_counter()
    category_shares(sub, n_boot, 0)
    ours = time.perf_counter() - start
    print(f"one model's opinion shares, {n_boot} draws: per-draw pandas loop {naive:.2f} s, "
          f"vectorised {ours:.3f} s ({naive / ours:.0f}x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--n-boot", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        rng = random.Random(0)
        paths = []
        for m in range(args.models):
            path = tmp_path / f"model-{m}__judge.jsonl"
            with path.open("w") as fh:
                for row in synthetic_rows(f"model-{m}", "judge", rng):
                    fh.write(json.dumps(row) + "\n")
            paths.append(path)
        size_mb = sum(p.stat().st_size for p in paths) / 1e6
        start = time.perf_counter()
        frame = load_annotations(paths)
        loaded = time.perf_counter()
        write_outputs(frame, tmp_path / "report", n_boot=args.n_boot, seed=0)
        done = time.perf_counter()
    print(f"{args.models} models x {len(frame) // args.models} responses x 3 evals "
          f"({size_mb:.0f} MB JSONL), {args.n_boot} bootstrap draws")
    print(f"load {loaded - start:.1f} s, tables+figures+report {done - loaded:.1f} s, "
          f"total {done - start:.1f} s (target < 30 s)")
    compare_bootstraps(frame, args.n_boot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
