"""Benchmark: a steered MPI collection on the embedded SmolLM2, ours vs the study's loop.

    python benchmarks/bench_steered_collection.py                  # 120 items x 5 reps x 3 groups
    python benchmarks/bench_steered_collection.py --items 12       # a documented subset

Both sides are whole processes, model load included, run one after the other in one run, over
the same prompts: every item's repetitions unsteered and steered to each of `--groups`
(120 x 5 x (1 + 3) = 2,400 prompts in full):
- ours: `scripts/create_model_response_mpi.py --steer group --groups ...` (one group of
  prompts scored as a tree of shared prefixes: each steering sentence and each worked
  example's drawn answer run once, batched forward passes, rows written as they finish);
- study: one `generate(max_new_tokens=3)` per prompt, the letters read from the first step's
  logits (the study's loop, with letter token ids from the tokenizer).
Reported: each side's wall time, the ratio (the moonshot is 6x), and the largest difference
of any normalised letter probability between the two. The embedded model's conversion is
made before timing (an untimed load), so neither side pays for it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GROUPS = "SEX=2;AGE=18-29;COUNTRY=USA"


def study_prompts(n_items: int, reps: int, seed: int, groups: str) -> list[tuple]:
    """((item_id, steer_to, rep), text) of every prompt, as the collection script builds them."""
    from pluralism.groups import parse_groups
    from pluralism.items import load_mpi_items
    from pluralism.prompts import item_prompts, load_templates
    from pluralism.steering import load_steering, steer_prompt

    template = load_templates().mpi
    steering = load_steering()
    targets = [None, *(steering.group(g) for g in parse_groups(groups))]
    out = []
    for item in load_mpi_items()[:n_items]:
        for target in targets:
            for r, p in enumerate(item_prompts(template, item, reps, seed)):
                key = (item.item_id, target.steer_to if target else None, r)
                out.append((key, steer_prompt(p, target, steering.joiner).text))
    return out


def study_child(n_items: int, reps: int, seed: int, groups: str, result: Path) -> None:
    """The study's loop: one generate() per prompt."""
    import torch

    from backends.option_scores import LocalScorer
    from backends.registry import create_backend
    from pluralism.prompts import letters_for

    backend = create_backend("smollm2-135m-instruct")
    model, tok = backend.model, backend.tokenizer
    ids_of = LocalScorer(model, tok).letter_tokens
    letters = letters_for(5)
    probs = {}
    for key, text in study_prompts(n_items, reps, seed, groups):
        enc = tok(text, return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=3, do_sample=False, output_logits=True,
                                 return_dict_in_generate=True,
                                 pad_token_id=tok.pad_token_id or tok.eos_token_id)
        logp = torch.log_softmax(out.logits[0][0].float(), -1)
        raw = [float(torch.logsumexp(logp[list(ids)], 0).exp())
               for ids in ids_of(text, letters).values()]
        probs[json.dumps(key)] = [p / sum(raw) for p in raw]
    result.write_text(json.dumps(probs))


def ours_probs(save_dir: Path) -> dict[str, list[float]]:
    probs = {}
    for line in (save_dir / "smollm2-135m-instruct.jsonl").read_text().splitlines():
        row = json.loads(line)
        for r, p in enumerate(row["rep_probs"]):
            probs[json.dumps([row["item_id"], row["steer_to"], r])] = p
    return probs


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=120)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--groups", default=GROUPS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        study_child(args.items, args.reps, args.seed, args.groups, args.result)
        return
    python = sys.executable
    # the embedded model's conversion, once, untimed
    subprocess.run([python, "-c", "from backends.registry import create_backend; "
                    "create_backend('smollm2-135m-instruct')"], check=True, cwd=REPO)
    with tempfile.TemporaryDirectory() as tmp:
        save_dir = Path(tmp) / "mpi"
        ours_s = timed([python, "scripts/create_model_response_mpi.py", "--save_dir",
                        str(save_dir), "--limit", str(args.items), "--reps", str(args.reps),
                        "--seed", str(args.seed), "--batch-size", str(args.batch_size),
                        "--steer", "group", "--groups", args.groups, "--no-progress",
                        "--no-cache"])
        result = Path(tmp) / "study.json"
        study_s = timed([python, __file__, "--child", "--result", str(result), "--items",
                         str(args.items), "--reps", str(args.reps), "--seed", str(args.seed),
                         "--groups", args.groups])
        ours, study = ours_probs(save_dir), json.loads(result.read_text())
    assert set(ours) == set(study), "the two sides scored different prompts"
    diff = max(abs(a - b) for k in study for a, b in zip(ours[k], study[k], strict=True))
    n_groups = len([g for g in args.groups.split(";") if g.strip()])
    print(f"SmolLM2-135M-Instruct on the CPU: {args.items} MPI items x {args.reps} reps x "
          f"(unsteered + {n_groups} groups) = {len(study)} prompts; whole processes")
    print(f"ours (create_model_response_mpi.py --steer group): {ours_s:7.1f} s")
    print(f"study (one generate() per prompt):                 {study_s:7.1f} s")
    print(f"ratio: {study_s / ours_s:.2f}x (moonshot 6x); max |p - p_study| = {diff:.1e}")


if __name__ == "__main__":
    main()
