"""Benchmark: human MPI distributions from a Johnson-sized response file (145,388 x 120 items).

Times reading the file (pandas, only the item columns) and counting (one numpy bincount), and
compares the counting side by side with a per-item pandas value_counts loop, the study's way.

    python benchmarks/human_mpi_distributions.py [--rows 145388]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pluralism.human_mpi import distributions_from_responses, read_responses

N_ITEMS = 120


def write_file(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    values = rng.integers(0, 6, size=(rows, N_ITEMS), dtype=np.int8)
    frame = pd.DataFrame(values, columns=[f"I{j + 1}" for j in range(N_ITEMS)])
    for k, name in enumerate(["CASE", "SEX", "AGE", "COUNTRY"]):
        frame.insert(k, name, "x" if name == "COUNTRY" else 1)
    frame.to_csv(path, index=False)


def per_item_value_counts(values: np.ndarray, keys: list[int]) -> np.ndarray:
    """Per-item counts with pandas value_counts, one column at a time."""
    frame = pd.DataFrame(values)
    out = np.zeros((N_ITEMS, 5))
    for j in range(N_ITEMS):
        col = frame[j]
        if keys[j] == -1:
            col = col.where(col == 0, 6 - col)
        counts = col[col > 0].value_counts()
        total = counts.sum()
        out[j] = [counts.get(v, 0) / total for v in (5, 4, 3, 2, 1)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=145_388)
    args = parser.parse_args()
    keys = [(-1 if j % 2 else 1) for j in range(N_ITEMS)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ipip.csv"
        write_file(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        t0 = time.perf_counter()
        values = read_responses(path, N_ITEMS)
        t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours, _ = distributions_from_responses(values, keys)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    loop = per_item_value_counts(values, keys)
    t_loop = time.perf_counter() - t0
    assert np.allclose(ours, loop)
    print(f"file: {args.rows} rows x {N_ITEMS + 4} columns, {size_mb:.0f} MB")
    print(f"read (pandas usecols): {t_read:.2f} s")
    print(f"count, one bincount:   {t_ours * 1000:.1f} ms")
    print(f"count, value_counts:   {t_loop * 1000:.1f} ms  ({t_loop / t_ours:.1f}x slower)")


if __name__ == "__main__":
    main()
