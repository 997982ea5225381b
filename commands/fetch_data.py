"""Fetch the studies' data listed in Data/manifest.json and derive their prompt templates.

    python scripts/fetch_data.py                       # download from the canonical URLs
    python scripts/fetch_data.py --with globalqa,ipip  # also GlobalOpinionQA, IPIP responses
    python scripts/fetch_data.py --mirror ../shared/data   # copy from a local mirror instead

The study templates (study_templates.json, study_prompts.json) are always derived from the
studies' own source files (fetched under Data/upstream/), even when a mirror holds copies.
"""

from __future__ import annotations

import os
from pathlib import Path

from tqdm import tqdm

from core.paths import DATA_DIR
from harness.cli import script_parser
from sources.derive import upstream_path
from sources.fetch import FetchResult, fetch_all
from sources.manifest import MANIFEST_PATH, MIRROR_ENV, load_manifest


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--mirror", type=Path, default=os.environ.get(MIRROR_ENV) or None,
                        help=f"folder with a copy of the data (default: ${MIRROR_ENV})")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--manifest", type=Path, default=MANIFEST_PATH)
    parser.add_argument("--only", choices=["neutrality", "pluralism"],
                        help="fetch one study's files (and the sources its templates come from)")
    parser.add_argument("--with", dest="extras", default="", metavar="NAMES",
                        help="comma-separated data fetched only on request: globalqa "
                             "(GlobalOpinionQA), ipip (IPIP-NEO-120 human responses)")
    args = parser.parse_args(argv)

    extras = [name.strip() for name in args.extras.split(",") if name.strip()]
    files = load_manifest(args.manifest, extras)
    if args.only:
        chosen = [f for f in files if f.path.startswith(args.only + "/")]
        needed = {upstream_path(f.derived_from["repository"], name)
                  for f in chosen if f.derived_from for name in f.derived_from["files"]}
        files = [f for f in files if f in chosen or f.path in needed]

    def report(r: FetchResult) -> None:
        tqdm.write(f"{r.status:>10}  {r.file.path}" + (f"  ({r.note})" if r.note else ""))

    fetch_all(files, args.data_dir, Path(args.mirror) if args.mirror else None, report)
    return 0

