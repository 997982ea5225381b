"""Turn judge annotations into the neutrality study's tables, figures and a Markdown report.

    python scripts/analyze_neutrality.py results/annotations/*.jsonl --out reports/neutrality/ \
        [--prompts Data/test_input.csv] [--n-boot 2000] [--seed 0]

Missing rows are counted against --prompts, by default Data/test_input.csv when it exists; for a
run of generate.py --sample/--tasks/--limit (recorded in its rows), only against the prompts that
selection chose from it.
"""

from __future__ import annotations

import argparse

from analysis.cluster_bootstrap import DEFAULT_N_BOOT
from analysis.neutrality_data import load_annotations, load_prompts, prompt_set_path
from analysis.neutrality_report import write_outputs
from analysis.prompt_selection import asked_by_system
from harness.cli import run_main
from harness.errors import UserError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("annotations", nargs="*",
                        help="annotation JSONL files (results/annotations/<model>__<judge>.jsonl)")
    parser.add_argument("--out", default="reports/neutrality",
                        help="report folder (default: reports/neutrality)")
    parser.add_argument("--prompts", help="full prompt set CSV, to count missing rows per model "
                        "(default: Data/test_input.csv when it exists)")
    parser.add_argument("--n-boot", type=int, default=DEFAULT_N_BOOT,
                        help=f"bootstrap draws per interval (default {DEFAULT_N_BOOT})")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    args = parser.parse_args(argv)
    if args.n_boot < 1:
        raise UserError(f"--n-boot must be at least 1, got {args.n_boot}")
    prompts_path = prompt_set_path(args.prompts)
    prompts = load_prompts(prompts_path) if prompts_path else None
    frame = load_annotations(args.annotations)
    written = write_outputs(frame, args.out, prompts=prompts, n_boot=args.n_boot, seed=args.seed,
                            sources=args.annotations,
                            prompts_source=str(prompts_path) if prompts_path else None,
                            asked=asked_by_system(frame, prompts_path))
    print(f"{len(frame)} rows of {frame['system'].nunique()} model(s): wrote {len(written)} "
          f"files to {args.out} (report: {args.out.rstrip('/')}/report.md)")
    print(f"missing rows counted against {prompts_path}" if prompts_path else
          "missing rows not counted: no --prompts and no Data/test_input.csv")
    return 0


if __name__ == "__main__":
    run_main(main)
