"""Fetch the raw study files: download from the canonical URL, or copy from a mirror folder.

Every file is written to a temporary name, checked against the manifest's sha256 and only
then renamed into place, so an interrupted or corrupt transfer never leaves a partial file.
"""

from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential
from tqdm import tqdm

from core.errors import UserError
from core.files import write_atomic
from core.progress import on_terminal, progress_bar
from sources.lock import ChecksumLock
from sources.manifest import MIRROR_ENV, DataFile

CHUNK = 1 << 16


class ChecksumError(UserError):
    """A fetched file's sha256 differs from the manifest's."""


@dataclass(frozen=True)
class FetchResult:
    file: DataFile
    status: str  # "present", "copied", "downloaded", "derived", "skipped"
    note: str = ""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_verified(
    reader: BinaryIO, dest: Path, name: str, expected: str | None, total: int | None,
    announced_length: int | None = None,
) -> str:
    """Stream `reader` into a temporary file beside dest, verify, then rename into place.

    expected: the sha256 to check, or None to accept (and return) whatever arrives.
    announced_length: the server's Content-Length; fewer bytes means the connection dropped.
    """
    digest = hashlib.sha256()

    def stream(out: BinaryIO) -> None:  # a failed check leaves dest as it was
        with tqdm(total=total, unit="B", unit_scale=True, desc=name, leave=False,
                  # a bar for small files is noise; off a terminal, so is any bar
                  disable=(total or 0) < (1 << 20) or not on_terminal()) as bar:
            for block in iter(lambda: reader.read(CHUNK), b""):
                out.write(block)
                digest.update(block)
                bar.update(len(block))
        received = out.tell()
        if announced_length is not None and received < announced_length:
            raise http.client.IncompleteRead(b"", announced_length - received)
        if expected is not None and digest.hexdigest() != expected:
            raise ChecksumError(
                f"checksum mismatch for {name}: expected sha256 {expected}, "
                f"got {digest.hexdigest()}; the source changed or the transfer was corrupted"
            )

    write_atomic(dest, stream)
    return digest.hexdigest()


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
def _download(file: DataFile, dest: Path, expected: str | None) -> str:
    assert file.url is not None
    request = urllib.request.Request(file.url, headers={"User-Agent": "contested-questions/0.1"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            length = response.headers.get("Content-Length")
            return _copy_verified(response, dest, file.path, expected, file.size,
                                  int(length) if length else None)
    except urllib.error.HTTPError as exc:
        if not _is_transient(exc):
            raise UserError(
                f"cannot download {file.path} from {file.url}: HTTP {exc.code}"
            ) from exc
        raise


def fetch_file(file: DataFile, data_dir: Path, mirror: Path | None = None,
               lock: ChecksumLock | None = None) -> FetchResult:
    """Make data_dir/file.path exist with the manifest's checksum (or the lock file's)."""
    if file.derived:
        raise ValueError(f"{file.path} is derived; use sources.derive.derive_file")
    lock = lock or ChecksumLock(data_dir)
    expected = file.sha256 or lock.get(file.path)
    dest = data_dir / file.path
    if dest.exists() and expected is not None and sha256_of(dest) == expected:
        return FetchResult(file, "present")
    if dest.exists() and expected is None:  # put there by hand: its checksum becomes the record
        return FetchResult(file, "present", _record(lock, file, sha256_of(dest)))
    got = None
    if mirror is not None and (mirror / file.path).exists():
        src = mirror / file.path
        with src.open("rb") as reader:
            got = _copy_verified(reader, dest, file.path, expected, src.stat().st_size)
        status = "copied"
    elif file.url is None or mirror is not None:
        if mirror is not None:  # a mirror was asked for: nothing goes to the network
            note = (f"not in the mirror {mirror} (no {mirror / file.path}); "
                    + ("copy it there" if file.url is None else
                       f"copy it there, or fetch without a mirror (no --mirror, "
                       f"{MIRROR_ENV} unset) to download it from {file.url}"))
        else:
            note = "no download URL; pass --mirror with a folder that has it"
        if file.required:
            raise UserError(f"{file.path} is {note}" if mirror is not None
                            else f"{file.path}: {note}")
        return FetchResult(file, "skipped", f"optional and {note}" if mirror is not None
                           else note)
    else:
        try:
            got = _download(file, dest, expected)
        except TRANSIENT as exc:
            raise UserError(
                f"cannot download {file.path} from {file.url} ({exc}); check the network, "
                "or pass --mirror DIR with a copy of the data"
            ) from exc
        status = "downloaded"
    if expected is None:
        _refuse_web_page(file, dest)
    return FetchResult(file, status, _record(lock, file, got) if expected is None else "")


def _refuse_web_page(file: DataFile, dest: Path) -> None:
    """A host's sign-in or "too large to scan" page is not data: never record its checksum."""
    with dest.open("rb") as fh:
        head = fh.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        dest.unlink()
        raise UserError(f"{file.url} sent a web page, not the data of {file.path}; download it "
                        "by hand from the source Data/manifest.json names for it and save it as "
                        f"{dest} (its checksum is recorded on the next fetch)")


def _record(lock: ChecksumLock, file: DataFile, sha256: str) -> str:
    lock.record(file.path, sha256)
    return (f"first fetch: sha256 {sha256[:12]}... recorded in {lock.path}; later fetches are "
            "checked against it")


def fetch_all(
    files: Iterable[DataFile],
    data_dir: Path,
    mirror: Path | None = None,
    on_result: Callable[[FetchResult], None] | None = None,
) -> list[FetchResult]:
    """Fetch every file, then derive the derived ones from what was fetched."""
    from sources.derive import derive_file  # derive imports this module

    if mirror is not None and mirror.is_file():
        raise UserError(f"mirror {mirror} is a file, not a folder; give --mirror the folder "
                        "that holds the data")
    if mirror is not None and not mirror.is_dir():
        raise UserError(f"mirror folder {mirror} does not exist; fix --mirror or unset it")
    files = sorted(files, key=lambda f: f.derived)  # sources before what is derived from them
    lock = ChecksumLock(data_dir)
    results = []
    bar = progress_bar(len(files), desc="fetch data", unit="file")
    try:
        for file in files:
            result = (derive_file(file, data_dir) if file.derived
                      else fetch_file(file, data_dir, mirror, lock))
            results.append(result)
            if on_result:
                on_result(result)
            bar.update(1)
    finally:
        bar.close()
    return results
