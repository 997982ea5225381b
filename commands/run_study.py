"""Run a whole study from a config, stage by stage; rerunning resumes where it stopped.

    python scripts/run_study.py                                  # the demo: embedded model, no key
    python scripts/run_study.py --config configs/neutrality_study.yaml --dry-run
"""

from __future__ import annotations

import os
from pathlib import Path

from commands import run_command
from core.paths import REPO_ROOT
from harness.cli import script_parser
from study.estimate import estimate_neutrality
from study.estimate_overton import estimate_overton
from study.run import run_stages
from study.stages import (
    fetch_plan,
    load_config,
    pluralism_stages,
    read_from_mirror,
    study_stages,
)

DEMO_CONFIG = REPO_ROOT / "configs" / "demo.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--config", type=Path, default=DEMO_CONFIG,
                        help="the study's YAML config")
    parser.add_argument("--mirror", type=Path,
                        help="copy the raw data from this folder instead of downloading it")
    parser.add_argument("--dry-run", action="store_true",
                        help="price every stage (online and with --batch-api), the wall time at "
                             "the rate limits, missing keys and retired models; sends, fetches "
                             "and writes nothing")
    parser.add_argument("--retry-errors", action="store_true",
                        help="redo the failed rows of the generation and annotation stages")
    parser.add_argument("--redo-stale", action="store_true",
                        help="redo the rows a stage's results file holds from another request "
                             "(the config's settings, prompts or judge changed since); without "
                             "it such a stage stops the study")
    args = parser.parse_args(argv)

    mirror = str(args.mirror.resolve()) if args.mirror else None
    config_path = args.config.resolve()
    os.chdir(REPO_ROOT)  # a config's paths are relative to the repository root
    config = load_config(config_path, {"mirror": mirror})
    if args.dry_run:
        print(f"dry run of study '{config.name}': nothing is sent, fetched or written")
        print(fetch_plan(config))
        if config.neutrality:
            print(estimate_neutrality(config).format())
        run_stages(read_from_mirror(pluralism_stages(config), config), config.results_dir,
                   runner=run_command, dry_run=True)
        if (config.pluralism or {}).get("overton"):
            print(estimate_overton(config).format())
        return 0
    outcome = run_stages(study_stages(config), config.results_dir, runner=run_command,
                         retry_errors=args.retry_errors, redo_stale=args.redo_stale)
    ran = sum(v == "ran" for v in outcome.values())
    print(f"study '{config.name}': {ran} stage(s) ran, "
          f"{sum(v == 'skipped (done)' for v in outcome.values())} were done already; "
          f"reports in {config.reports_dir}/")
    return 0

