"""Benchmark: MPI letter probabilities on the embedded SmolLM2, ours vs the study's way.

    python benchmarks/bench_distribution_collection.py                 # 120 items x 5 reps
    python benchmarks/bench_distribution_collection.py --items 24      # a quicker look

Three ways over the same prompts (our template, seed 0), each in its own process so each
one's peak memory is its own, one after the other in one run:
- study: `generate(max_new_tokens=3)` one prompt at a time, the letters read from the first
  step's logits (what the study's script did, with token ids from the tokenizer);
- plain: one forward pass per prompt, batched (`--batch-size`), no shared prefix;
- ours: the same with the in-context examples' key/value states shared (the default).
Reported: scoring seconds (model load excluded, and shown apart), the speed-up over the
study's way, peak resident memory of each process, and the largest difference of any letter
probability from the study's (a plain full forward pass of each prompt). Targets: ours at
least 2.5x faster than the study's way, within 1e-4 of it, under 2 GB peak.
Needs the data fetched (`python scripts/fetch_data.py`).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("study", "plain", "ours")


def prompts(n_items: int, reps: int, seed: int) -> list[tuple[str, str]]:
    """(text, shared prefix) of each (item, repetition), as create_model_response_mpi.py."""
    from pluralism.items import load_mpi_items
    from pluralism.prompts import item_prompts, load_templates

    template = load_templates().mpi
    items = load_mpi_items()[:n_items]
    return [(p.text, p.prefix) for it in items for p in item_prompts(template, it, reps, seed)]


def score(mode: str, n_items: int, reps: int, batch_size: int, seed: int) -> dict:
    """Run one mode in this process: letter probabilities, timings and peak memory."""
    import torch

    from backends.option_scores import LocalScorer, ScoreJob
    from backends.registry import create_backend
    from pluralism.prompts import letters_for

    torch.manual_seed(0)
    t0 = time.perf_counter()
    backend = create_backend("smollm2-135m-instruct")
    model, tok = backend.model, backend.tokenizer
    load_s = time.perf_counter() - t0
    letters = letters_for(5)
    jobs = [ScoreJob(text, letters, group=prefix) for text, prefix in prompts(n_items, reps,
                                                                               seed)]
    probs: list[list[float]] = [[] for _ in jobs]
    t0 = time.perf_counter()
    if mode == "study":
        ids_of = LocalScorer(model, tok).letter_tokens
        for i, job in enumerate(jobs):
            enc = tok(job.text, return_tensors="pt")
            with torch.inference_mode():
                out = model.generate(**enc, max_new_tokens=3, do_sample=False,
                                     output_logits=True, return_dict_in_generate=True,
                                     pad_token_id=tok.pad_token_id or tok.eos_token_id)
            logp = torch.log_softmax(out.logits[0][0].float(), -1)
            probs[i] = [float(torch.logsumexp(logp[list(ids)], 0).exp())
                        for ids in ids_of(job.text, letters).values()]
    else:
        scorer = LocalScorer(model, tok, batch_size=batch_size, prefix_cache=mode == "ours")
        for batch in scorer.score(jobs):
            for i, s in batch:
                probs[i] = s.probs
    score_s = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {"mode": mode, "load_s": load_s, "score_s": score_s, "peak_mb": peak_mb,
            "prompts": len(jobs), "probs": probs}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=120)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        result = score(args.child, args.items, args.reps, args.batch_size, args.seed)
        args.result.write_text(json.dumps(result))
        return

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            out = Path(tmp) / f"{mode}.json"
            subprocess.run([sys.executable, __file__, "--child", mode, "--result", str(out),
                            "--items", str(args.items), "--reps", str(args.reps),
                            "--batch-size", str(args.batch_size), "--seed", str(args.seed)],
                           check=True)
            results[mode] = json.loads(out.read_text())
    n = next(iter(results.values()))["prompts"]
    print(f"SmolLM2-135M-Instruct on the CPU: {args.items} MPI items x {args.reps} reps = "
          f"{n} prompts; batch {args.batch_size}")
    base = results.get("study")
    for mode, r in results.items():
        line = (f"{mode:>5}: {r['score_s']:7.1f} s scoring ({r['prompts'] / r['score_s']:5.1f} "
                f"prompts/s), load {r['load_s']:4.1f} s, peak {r['peak_mb']:6.0f} MB")
        if base and mode != "study":
            diff = max(abs(a - b) for pa, pb in zip(r["probs"], base["probs"], strict=True)
                       for a, b in zip(pa, pb, strict=True))
            line += (f"; {base['score_s'] / r['score_s']:4.2f}x the study's way; "
                     f"max |p - p_study| = {diff:.1e}")
        print(line)
    print("targets: ours >= 2.5x the study's way, max |p - p_study| <= 1e-4, peak < 2048 MB")


if __name__ == "__main__":
    main()
