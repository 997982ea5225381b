"""Write the judge prompts for a generations file: one per (response, eval index).

    python scripts/create_annotate_prompts.py --generations results/generations/gpt-4o.jsonl
    python scripts/create_annotate_prompts.py --generations G.jsonl --n-evals 3 \\
        --templates Data/neutrality/study_templates.json      # the study's own prompts

Each output line: id, sample, eval, prompt, and the prompt's label, task, original_input,
format_number. scripts/annotate.py builds the same prompts itself; this shows them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from annotations.prompts import build_prompts, load_judge_template
from annotations.run import ANNOTATIONS_DIR, load_generations
from annotations.vote import CARRY_FIELDS
from core.errors import UserError
from harness.cli import script_parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--generations", type=Path, required=True, help="JSONL from generate.py")
    p.add_argument("--n-evals", type=int, default=1, help="judge prompts per response (K)")
    p.add_argument("--templates", type=Path,
                   help="judge template JSON (default: prompts/judge_template.json; the study's "
                        "study_templates.json works too)")
    p.add_argument("--out", type=Path,
                   help="output JSONL (default: results/annotations/prompts/<generations>.jsonl)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.n_evals < 1:
        raise UserError(f"--n-evals must be at least 1, got {args.n_evals}")
    template = load_judge_template(args.templates)
    prompts = build_prompts(load_generations(args.generations), template, args.n_evals)
    out = args.out or ANNOTATIONS_DIR / "prompts" / f"{args.generations.stem}.jsonl"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as fh:
            for p in prompts:
                row = {"id": p.row["id"], "sample": p.row.get("sample", 0), "eval": p.eval,
                       "prompt": p.text, **{f: p.row.get(f) for f in CARRY_FIELDS}}
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror}; choose another --out") from exc
    print(f"{len(prompts)} judge prompts -> {out}")
    return 0

