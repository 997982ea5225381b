"""Turn judge annotations into the neutrality study's tables, figures and a Markdown report.

    python scripts/analyze_neutrality.py results/annotations/*.jsonl --out-dir reports/neutrality/ \
        [--prompts Data/test_input.csv] [--n-boot 2000] [--seed 0]

Missing rows are counted against --prompts, by default Data/test_input.csv when it exists; for a
run of generate.py --sample/--tasks/--limit (recorded in its rows), only against the prompts that
selection chose from it.
"""

from __future__ import annotations

from analysis.cluster_bootstrap import DEFAULT_N_BOOT
from analysis.neutrality_data import (
    check_prompt_texts,
    load_annotations,
    load_prompts,
    prompt_set_path,
)
from analysis.neutrality_report import write_outputs
from analysis.prompt_selection import asked_by_system
from core.errors import UserError
from harness.cli import script_parser


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("annotations", nargs="*",
                        help="annotation JSONL files (results/annotations/<model>__<judge>.jsonl)")
    parser.add_argument("--out-dir", "--out", dest="out_dir", default="reports/neutrality",
                        help="report folder (--out: the old name, still accepted)")
    parser.add_argument("--prompts", help="full prompt set CSV, to count missing rows per model "
                        "(default: Data/test_input.csv when it exists)")
    parser.add_argument("--n-boot", type=int, default=DEFAULT_N_BOOT,
                        help="bootstrap draws per interval")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    args = parser.parse_args(argv)
    if args.n_boot < 1:
        raise UserError(f"--n-boot must be at least 1, got {args.n_boot}")
    prompts_path = prompt_set_path(args.prompts)
    prompts = load_prompts(prompts_path) if prompts_path else None
    frame = load_annotations(args.annotations)
    check_prompt_texts(frame, prompts, prompts_path)
    written = write_outputs(frame, args.out_dir, prompts=prompts, n_boot=args.n_boot,
                            seed=args.seed, sources=args.annotations,
                            prompts_source=str(prompts_path) if prompts_path else None,
                            asked=asked_by_system(frame, prompts_path))
    print(f"{len(frame)} rows of {frame['system'].nunique()} model(s): wrote {len(written)} "
          f"files to {args.out_dir} (report: {args.out_dir.rstrip('/')}/report.md, "
          "report.html)")
    print(f"missing rows counted against {prompts_path}" if prompts_path else
          "missing rows not counted: no --prompts and no Data/test_input.csv")
    return 0

