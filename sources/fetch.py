"""Fetch the raw study files: download from the canonical URL, or copy from a mirror folder.

Every file is written to a temporary name, checked against the manifest's sha256 and only
then renamed into place, so an interrupted or corrupt transfer never leaves a partial file.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential
from tqdm import tqdm

from harness.errors import UserError
from harness.progress import progress_bar
from sources.manifest import DataFile

CHUNK = 1 << 16


class ChecksumError(UserError):
    """A fetched file's sha256 differs from the manifest's."""


@dataclass(frozen=True)
class FetchResult:
    file: DataFile
    status: str  # "present", "copied", "downloaded", "skipped"
    note: str = ""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_verified(
    reader: BinaryIO, dest: Path, expected: DataFile, total: int | None, desc: str,
    announced_length: int | None = None,
) -> None:
    """Stream `reader` into a temporary file beside dest, verify, then rename into place.

    announced_length: the server's Content-Length; fewer bytes means the connection dropped.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out, tqdm(
            total=total, unit="B", unit_scale=True, desc=desc, leave=False,
            disable=(total or 0) < (1 << 20),  # a bar for small files is only noise
        ) as bar:
            for block in iter(lambda: reader.read(CHUNK), b""):
                out.write(block)
                digest.update(block)
                bar.update(len(block))
            out.flush()
            os.fsync(out.fileno())
            received = out.tell()
        if announced_length is not None and received < announced_length:
            raise http.client.IncompleteRead(b"", announced_length - received)
        got = digest.hexdigest()
        if got != expected.sha256:
            raise ChecksumError(
                f"checksum mismatch for {expected.path}: expected sha256 {expected.sha256}, "
                f"got {got}; the source changed or the transfer was corrupted"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


# network failures worth another try; a short read (dropped connection) is IncompleteRead
TRANSIENT = (urllib.error.URLError, TimeoutError, ConnectionError, http.client.IncompleteRead)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code in (408, 429) or exc.code >= 500
    return isinstance(exc, TRANSIENT)


@retry(
    retry=retry_if_exception_type(TRANSIENT),
    wait=wait_random_exponential(multiplier=1, max=30),
    stop=stop_after_attempt(5),
    reraise=True,
)
def _download(file: DataFile, dest: Path) -> None:
    assert file.url is not None
    request = urllib.request.Request(file.url, headers={"User-Agent": "contested-questions/0.1"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            length = response.headers.get("Content-Length")
            _copy_verified(response, dest, file, file.size, file.path,
                           int(length) if length else None)
    except urllib.error.HTTPError as exc:
        if not _is_transient(exc):
            raise UserError(
                f"cannot download {file.path} from {file.url}: HTTP {exc.code}"
            ) from exc
        raise


def fetch_file(file: DataFile, data_dir: Path, mirror: Path | None = None) -> FetchResult:
    """Make data_dir/file.path exist with the manifest's checksum."""
    dest = data_dir / file.path
    if dest.exists() and sha256_of(dest) == file.sha256:
        return FetchResult(file, "present")
    if mirror is not None:
        src = mirror / file.path
        if src.exists():
            with src.open("rb") as reader:
                _copy_verified(reader, dest, file, src.stat().st_size, file.path)
            return FetchResult(file, "copied")
    if file.url is None:
        note = "no download URL; pass --mirror with a folder that has it"
        if file.required:
            raise UserError(f"{file.path}: {note}")
        return FetchResult(file, "skipped", note)
    try:
        _download(file, dest)
    except TRANSIENT as exc:
        raise UserError(
            f"cannot download {file.path} from {file.url} ({exc}); check the network, "
            "or pass --mirror DIR with a copy of the data"
        ) from exc
    return FetchResult(file, "downloaded")


def fetch_all(
    files: Iterable[DataFile],
    data_dir: Path,
    mirror: Path | None = None,
    on_result: Callable[[FetchResult], None] | None = None,
) -> list[FetchResult]:
    if mirror is not None and not mirror.is_dir():
        raise UserError(f"mirror folder {mirror} does not exist; fix --mirror or unset it")
    results = []
    files = list(files)
    bar = progress_bar(len(files), desc="fetch data", unit="file")
    try:
        for file in files:
            result = fetch_file(file, data_dir, mirror)
            results.append(result)
            if on_result:
                on_result(result)
            bar.update(1)
    finally:
        bar.close()
    return results


