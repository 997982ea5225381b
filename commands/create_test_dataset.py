"""Build the neutrality test set (10,314 prompts with the shipped data) from the raw sources.

    python scripts/create_test_dataset.py
    python scripts/create_test_dataset.py --templates ../shared/data/neutrality/study_templates.json
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from core.paths import DATA_DIR
from harness.cli import script_parser
from neutrality.templates import DEFAULT_TEMPLATES, load_templates
from neutrality.testset import build_test_set, write_test_set
from sources.neutrality import load_all_sources


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--templates", type=Path, default=DEFAULT_TEMPLATES,
                        help="template JSON (default: the project's own, prompts/)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR,
                        help="folder holding neutrality/*.csv (default: Data/)")
    parser.add_argument("--out", type=Path, default=DATA_DIR / "test_input.csv")
    args = parser.parse_args(argv)

    templates = load_templates(args.templates)
    rows = build_test_set(load_all_sources(args.data_dir), templates)
    write_test_set(rows, args.out)
    for task, n in Counter(r.task for r in rows).items():
        print(f"{n:>6}  {task}")
    print(f"{len(rows):>6}  prompts written to {args.out}")
    return 0

