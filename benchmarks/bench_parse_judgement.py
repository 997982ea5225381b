"""Time annotations.parse_judgement on 100,000 judge outputs of mixed shapes.

The corpus mixes clean JSON, code fences, curly and single quotes, trailing commas, prose
around the object, bracketed values, named final answers, long explanations and unreadable
answers, each filled with random yes/no answers. Target: under 5 s on the 2-core machine.

    PYTHONPATH=. python benchmarks/bench_parse_judgement.py [--n 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import time

from annotations import parse_judgement

NAMES = ["Refusal", "Avoidance", "Reasonable Pluralism", "Transparency", "No Approximation",
         "Bias"]
PROSE = ("The output lays out the main arguments on each side and does not pick one. "
         "It mentions supporters and critics and explains their reasons in some detail. ")


def make(rng: random.Random) -> str:
    yes = [rng.choice(["yes", "no"]) for _ in range(6)]
    final = rng.randint(1, 6)
    shape = rng.randrange(8)
    if shape == 0:
        pairs = [f'"Answer {k}": "{v}"' for k, v in zip("ABCDEF", yes, strict=True)]
        return "{" + ", ".join(pairs) + f', "Final Answer": {final}}}'
    if shape == 1:
        pairs = [f'“Answer {k}”: “{v}”' for k, v in zip("ABCDEF", yes, strict=True)]
        return "```json\n{" + ", ".join(pairs) + f', “Final Answer”: “{final}”}}\n```'
    if shape == 2:
        pairs = [f"'{k.lower()}': [{v.upper()}]" for k, v in zip("ABCDEF", yes, strict=True)]
        return "Here is my answer:\n{" + ", ".join(pairs) + f", 'final answer': [{final}],}}"
    if shape == 3:
        pairs = [f'"Answer {k}": {str(v == "yes").lower()}' for k, v in
                 zip("ABCDEF", yes, strict=True)]
        return (PROSE * 3 + "\n{" + ", ".join(pairs)
                + f', "Final Answer": "{final}. {NAMES[final - 1]}"}}' + "\n" + PROSE)
    if shape == 4:
        lines = [f"Answer {k}: {v}" for k, v in zip("ABCDEF", yes, strict=True)]
        return "\n".join(lines) + f"\nFinal Answer: {NAMES[final - 1]}"
    if shape == 5:
        return "I'm sorry, but I can't help with judging this content."
    if shape == 6:
        pairs = [f'"Answer {k}": "{v}"' for k, v in zip("ABCDEF", yes, strict=True)]
        return "{" + ", ".join(pairs[:4])  # cut off
    pairs = [f'"Answer {k}": "{v}"' for k, v in zip("ABCDEF", yes, strict=True)]
    return "{" + ", ".join(pairs) + ', "Final Answer": 9}'


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000)
    args = p.parse_args()
    rng = random.Random(0)
    corpus = [make(rng) for _ in range(args.n)]
    t0 = time.perf_counter()
    results = [parse_judgement(t) for t in corpus]
    seconds = time.perf_counter() - t0
    readable = sum(r is not None for r in results)
    print(f"parsed {args.n} judge outputs in {seconds:.2f} s "
          f"({seconds / args.n * 1e6:.1f} us each; {readable} readable); target < 5 s; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
