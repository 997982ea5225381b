"""One results writer for every long run: an append-only JSON Lines file that resumes.

Each finished result is one line, written and flushed as it completes, so a crash or
kill -9 loses only the requests in flight. Reopening the file tolerates a torn last line
(it is cut off), and a key already present is never written twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from core.errors import UserError
from core.files import write_atomic, write_jsonl_atomic
from core.text import well_formed
from harness.redact import PLACEHOLDER, redact

Row = dict[str, Any]
KeyFn = Callable[[Row], Hashable]


def key_by(*fields: str) -> KeyFn:
    """A key function reading `fields` from a row, e.g. key_by("id", "sample")."""

    def key(row: Row) -> Hashable:
        return tuple(row.get(f) for f in fields)

    return key


SET_ASIDE_FLAG = "--set-aside-bad-lines"


def bad_line_fix(path: Path) -> str:
    """What to do about a corrupt line: repair it by hand, or move every bad line aside."""
    return (f"the file is unchanged; repair or delete that line, or rerun with "
            f"{SET_ASIDE_FLAG} to move every bad line to {side_file(path)}")


def side_file(path: Path) -> Path:
    """Where set_aside_bad_lines keeps the lines it takes out of `path`: `<path>.bad`."""
    return path.with_name(path.name + ".bad")


def _parse_line(raw: bytes) -> tuple[Row | None, str]:
    """(row, "") for a line holding a JSON object, else (None, what is wrong with it)."""
    try:
        row = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return None, f"is not JSON ({getattr(exc, 'msg', None) or exc.reason})"
    if not isinstance(row, dict):
        return None, "is not a JSON object"
    return row, ""


def read_jsonl(path: str | Path) -> Iterator[Row]:
    """Yield the rows of a JSON Lines file, skipping a torn (unterminated) last line.

    A complete line that is not a JSON object is a UserError naming the file, the line and
    the fix: a row is never dropped silently, and the file is left as it is.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist: check the path, or run the stage that writes it")
    for _, row in _numbered_rows(path, bad_line_fix(path)):
        yield row


def _numbered_rows(path: Path, fix: str) -> Iterator[tuple[int, Row]]:
    """(line number, row) of every complete line; a line that is not a JSON object is a
    UserError naming the file, the line and `fix`."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.endswith(b"\n"):
                break  # torn by a crash mid-write; the store cuts it off on reopening
            if raw.strip():
                row, problem = _parse_line(raw)
                if row is None:
                    raise UserError(f"{path} line {number} {problem}; {fix}")
                yield number, row


def set_aside_bad_lines(path: str | Path) -> int:
    """Move every complete line of `path` that is not a JSON object to `<path>.bad`; returns
    how many moved (0 leaves the file untouched).

    The bad lines are appended to the side file and synced before `path` is rewritten
    (atomically, under the results writer's lock), so a crash between the two loses nothing.
    A torn last line stays, for the results writer to cut off and redo.
    """
    path = Path(path)
    if not path.is_file():
        return 0
    with open(path, "r+b") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise UserError(f"another run is writing {path}; wait for it to finish") from exc
        lines = lock.read().splitlines(keepends=True)
        good: list[bytes] = []
        bad: list[bytes] = []
        for raw in lines:
            ok = not raw.endswith(b"\n") or not raw.strip() or _parse_line(raw)[0] is not None
            (good if ok else bad).append(raw)
        if not bad:
            return 0
        try:
            with side_file(path).open("ab") as side:
                side.writelines(bad)
                side.flush()
                os.fsync(side.fileno())
            write_atomic(path, lambda out: out.writelines(good))
        except OSError as exc:
            raise UserError(f"cannot set aside the bad lines of {path}: {exc.strerror}; "
                            "free space or fix the folder's permissions") from exc
    return len(bad)


def not_done(path: str | Path, keys: Iterable[Row], key: KeyFn) -> int:
    """How many of `keys` (key rows such as {"id": 3, "sample": 0}) have no row in the
    file at `path`, or a row carrying an error: the rows a run failed to finish."""
    path = Path(path)
    rows = {key(r): r for r in read_jsonl(path)} if path.exists() else {}
    return sum(1 for k in keys if (row := rows.get(key(k))) is None or row.get("error"))


def read_checked_jsonl(path: str | Path, required: Sequence[str], *, what: str, fix: str
                       ) -> Iterator[tuple[int, Row]]:
    """(line number, row) of a JSONL file whose rows are objects holding every `required` field.

    Anything else is a UserError naming the file and line, ending in `fix`; `what` names the
    file's kind when it is missing. A torn last line is skipped, as in read_jsonl.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} {path} does not exist: check the path, or {fix}")
    for number, row in _numbered_rows(path, fix):
        missing = [f for f in required if f not in row]
        if missing:
            raise UserError(f"{path} line {number} lacks field '{missing[0]}'; {fix}")
        yield number, row


class ResultsStore:
    """Append-only JSONL results keyed by `key`; the last row of a key wins.

    Use as a context manager: it takes an exclusive lock, so two runs never write one file.
    A write the disk refuses (full, read-only, over a size limit) is one UserError; the file
    keeps every row finished before it, whole, and a rerun resumes from there. A results file
    this run created and left empty is removed on closing.
    """

    def __init__(self, path: str | Path, key: KeyFn) -> None:
        self.path = Path(path)
        self.key = key
        self.rows: dict[Hashable, Row] = {}
        self._fh: IO[bytes] | None = None
        self._created = False

    def __enter__(self) -> ResultsStore:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _refused(self, exc: OSError, doing: str = "write results file") -> UserError:
        return UserError(
            f"cannot {doing} {self.path}: {exc.strerror or exc}; free space or fix the "
            "folder's permissions (or choose another --out), then rerun the same command: "
            "finished rows are kept"
        )

    def _open_locked(self) -> IO[bytes]:
        # unbuffered: a row reaches the file in our own write calls, so a refused write
        # leaves nothing behind in a buffer to be flushed half later
        fh = open(self.path, "a+b", buffering=0)  # noqa: SIM115 - held open for the run
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            fh.close()
            raise UserError(
                f"another run is writing {self.path}; wait for it or choose another --out"
            ) from exc
        return fh

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._created = not self.path.exists()
            self._fh = self._open_locked()
        except OSError as exc:
            raise UserError(
                f"cannot write results file {self.path}: {exc.strerror}; "
                "choose a writable path with --out"
            ) from exc
        try:
            self._cut_torn_tail()
        except OSError as exc:
            self.close()
            raise self._refused(exc, "repair the torn last line of") from exc
        try:
            self.rows = {self.key(r): r for r in read_jsonl(self.path)}
        except BaseException:
            self.close()  # a bad line: the lock goes with the error, not with the traceback
            raise

    def close(self) -> None:
        if self._fh is None:
            return
        with contextlib.suppress(OSError):
            if self._created and os.fstat(self._fh.fileno()).st_size == 0:
                self.path.unlink(missing_ok=True)  # still locked: no one else writes it
        self._fh.close()
        self._fh = None

    def _cut_torn_tail(self) -> None:
        assert self._fh is not None
        self._fh.seek(0)
        data = self._fh.read()
        if data and not data.endswith(b"\n"):
            os.ftruncate(self._fh.fileno(), data.rfind(b"\n") + 1)

    def __contains__(self, key: Hashable) -> bool:
        return key in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def done(self, *, include_errors: bool = True) -> set[Hashable]:
        """Keys already finished; with include_errors=False, rows carrying an error are not done."""
        return {k for k, r in self.rows.items() if include_errors or not r.get("error")}

    def append(self, row: Row) -> None:
        """Write one finished row to the OS at once, whole or not at all."""
        if self._fh is None:
            raise RuntimeError("ResultsStore is not open")
        k = self.key(row)
        if k in self.rows and not self.rows[k].get("error"):
            raise ValueError(f"result {k!r} is already written")
        if k in self.rows:
            # a retried error: rewrite the file without the old row, so no key appears twice
            self.drop([k])
        line = redact(json.dumps(row, ensure_ascii=False))  # a key quoted back is never written
        safe = well_formed(line)  # a lone surrogate cannot be UTF-8: U+FFFD, not a crash
        data = memoryview((safe + "\n").encode("utf-8"))
        fd = self._fh.fileno()
        end = os.fstat(fd).st_size
        try:
            while data:
                data = data[os.write(fd, data):]
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, end)  # no half row left behind
            raise self._refused(exc) from exc
        self.rows[k] = json.loads(safe) if PLACEHOLDER in line or safe != line else row

    def drop(self, keys: Iterable[Hashable]) -> None:
        """Remove rows (e.g. errors about to be retried) by atomically rewriting the file."""
        drop = set(keys) & self.rows.keys()
        if not drop or self._fh is None:
            return
        kept = {k: r for k, r in self.rows.items() if k not in drop}
        try:
            write_jsonl_atomic(self.path, kept.values())
        except OSError as exc:  # the results file itself is untouched
            raise self._refused(exc, "rewrite") from exc
        self.rows = kept
        # the lock and handle belonged to the replaced file: reopen and relock the new one
        self._fh.close()
        self._fh = self._open_locked()
        self._created = False


def reusable_keys(path: Path, key: KeyFn,
                  stale: Callable[[dict[Hashable, Row]], Iterable[Hashable]], *,
                  include_errors: bool = True) -> set[Hashable]:
    """A local stage's resume: the keys already done in `path`, after removing the rows
    `stale` names (made from another request; it raises instead where the run must stop).
    Nothing when the file does not exist yet."""
    if not path.exists():
        return set()
    with ResultsStore(path, key) as store:
        store.drop(stale(store.rows))
        return store.done(include_errors=include_errors)
