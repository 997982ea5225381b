"""The probability judge against the JSON judge on the embedded model, same responses.

Runs scripts/annotate.py twice on one generations file (the demo's 70 SmolLM2 answers by
default) with the embedded SmolLM2-135M-Instruct as judge: the JSON judge as the demo ran it
before (one eval, 80 tokens, no re-asks, batches of 8) and the probability judge (one forward
pass per response, batches of 8). Each is a whole process from a cold start, timed side by
side, so the ratio holds on a busy machine; prints wall time and the share of readable rows.

    .venv/bin/python benchmarks/bench_probs_judge.py \\
        [--generations results/demo/generations/smollm2-135m-instruct.jsonl] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_GENERATIONS = REPO / "results" / "demo" / "generations" / "smollm2-135m-instruct.jsonl"
MODES = {
    "json (demo before)": ["--judge-mode", "json", "--n-evals", "1", "--max-tokens", "80",
                           "--max-reparse", "0", "--batch-size", "8"],
    "probs": ["--judge-mode", "probs", "--batch-size", "8"],
}


def run(mode: str, generations: Path, out: Path) -> dict:
    argv = [sys.executable, str(REPO / "scripts" / "annotate.py"), "--judge",
            "smollm2-135m-instruct", "--generations", str(generations), "--out", str(out),
            "--no-cache", "--no-progress", *MODES[mode]]
    t0 = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
    wall = time.monotonic() - t0
    if done.returncode not in (0, 1):
        raise SystemExit(f"{mode}: annotate.py failed:\n{done.stderr[-2000:]}")
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    readable = sum(r.get("final_category") is not None for r in rows)
    return {"mode": mode, "wall_s": round(wall, 1), "rows": len(rows), "readable": readable,
            "share_readable": round(readable / max(1, len(rows)), 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--generations", type=Path, default=DEFAULT_GENERATIONS)
    p.add_argument("--repeat", type=int, default=1, help="alternating runs of each mode")
    args = p.parse_args()
    if not args.generations.is_file():
        raise SystemExit(f"{args.generations} not found: run the README's main job first")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeat):
            for mode in MODES:  # alternate, so both modes see the same machine load
                out = Path(tmp) / f"{k}-{mode.split()[0]}.jsonl"
                results.append(run(mode, args.generations, out))
                print(json.dumps(results[-1]), flush=True)
    by_mode = {m: [r["wall_s"] for r in results if r["mode"] == m] for m in MODES}
    json_s, probs_s = (min(v) for v in by_mode.values())
    print(f"best wall time: json {json_s} s, probs {probs_s} s; ratio {json_s / probs_s:.1f}x")


if __name__ == "__main__":
    main()
