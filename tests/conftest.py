"""Shared fixtures: the study data mirror (../shared/data) fetched into a temporary Data/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sources.fetch import fetch_all
from sources.manifest import MIRROR_ENV, REPO_ROOT, load_manifest


def data_mirror() -> Path:
    mirror = Path(os.environ.get(MIRROR_ENV) or REPO_ROOT.parent / "shared" / "data")
    if not (mirror / "neutrality").is_dir():
        pytest.fail(f"study data mirror not found at {mirror}; set {MIRROR_ENV}")
    return mirror


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    return data_mirror()


@pytest.fixture(scope="session")
def fetched_data(tmp_path_factory, mirror_dir) -> Path:
    """A data folder filled from the mirror through the real fetch path (checksums verified)."""
    data_dir = tmp_path_factory.mktemp("Data")
    fetch_all(load_manifest(), data_dir, mirror_dir)
    return data_dir
