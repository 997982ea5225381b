"""Benchmark: the whole distribution analysis at study scale, from JSONL files to the report.

10 models x 2,556 GlobalOpinionQA items (2-5 options, United States and Japan) and 10 models x
120 MPI items, 5 pretrained/aligned pairs, default 10 shuffles and 2,000 bootstrap resamples.

    python benchmarks/distribution_analysis.py
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

N_GLOBALQA = 2556
N_MPI = 120
MODELS = [f"model-{k}{suffix}" for k in range(5) for suffix in ("", "-chat")]


def write_rows(folder: Path, dataset: str, n_items: int, rng: np.random.Generator) -> list[str]:
    folder.mkdir(parents=True)
    humans = {}
    paths = []
    for model in MODELS:
        lines = []
        for item in range(n_items):
            k = 5 if dataset == "mpi" else 2 + item % 4
            if dataset == "globalqa":
                human = humans.setdefault(item, {g: rng.dirichlet([1] * k).tolist()
                                                 for g in ("United States", "Japan")})
            else:
                human = None
            probs = rng.dirichlet([0.5 if model.endswith("chat") else 3.0] * k).tolist()
            lines.append(json.dumps({
                "dataset": dataset, "item_id": item, "question": f"Q{item}",
                "options": [f"o{j}" for j in range(k)], "probs": probs,
                "letter_mass": [0.9] * 5, "model": model, "flags": [], "human": human}))
        path = folder / f"{model}.jsonl"
        path.write_text("\n".join(lines) + "\n")
        paths.append(str(path))
    return paths


def run() -> None:
    import importlib.util

    script = Path(__file__).resolve().parent.parent / "scripts" / "analyze_distributions.py"
    spec = importlib.util.spec_from_file_location("analyze_distributions", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        globalqa = write_rows(tmp / "globalqa", "globalqa", N_GLOBALQA, rng)
        mpi = write_rows(tmp / "mpi", "mpi", N_MPI, rng)
        pairs = [arg for k in range(5) for arg in ("--pair", f"model-{k}:model-{k}-chat")]
        t0 = time.perf_counter()
        module.main(["--globalqa", *globalqa, "--mpi", *mpi, *pairs, "--out", str(tmp / "out")])
        wall = time.perf_counter() - t0
    print(f"analysis of {len(MODELS)} models x ({N_GLOBALQA} GlobalQA + {N_MPI} MPI items): "
          f"{wall:.1f} s")


if __name__ == "__main__":
    run()
