"""Download the studies' raw data listed in Data/manifest.json (or copy it from a mirror).

    python scripts/fetch_data.py                       # download from the canonical URLs
    python scripts/fetch_data.py --mirror ../shared/data
"""

from __future__ import annotations

import os
from pathlib import Path

from tqdm import tqdm

from harness.cli import run_main, script_parser
from sources.fetch import FetchResult, fetch_all
from sources.manifest import DATA_DIR, MANIFEST_PATH, MIRROR_ENV, load_manifest


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--mirror", type=Path, default=os.environ.get(MIRROR_ENV) or None,
                        help=f"folder with a copy of the data (default: ${MIRROR_ENV})")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--manifest", type=Path, default=MANIFEST_PATH)
    parser.add_argument("--only", choices=["neutrality", "pluralism"],
                        help="fetch one study's files")
    args = parser.parse_args(argv)

    files = [f for f in load_manifest(args.manifest) if not args.only or
             f.path.startswith(args.only + "/")]

    def report(r: FetchResult) -> None:
        tqdm.write(f"{r.status:>10}  {r.file.path}" + (f"  ({r.note})" if r.note else ""))

    fetch_all(files, args.data_dir, Path(args.mirror) if args.mirror else None, report)
    return 0


if __name__ == "__main__":
    run_main(main)
