"""Progress of a long run: a tqdm bar on a terminal, plain periodic lines otherwise.

A bar redraws itself with carriage returns, which in a log file (or a CI log, or `| tee`)
becomes one long line interleaved with our own messages. When stderr is not a terminal the
run prints one plain line every PLAIN_EVERY_S seconds instead, and one at the end.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Any

from tqdm.auto import tqdm

#: seconds between plain progress lines
PLAIN_EVERY_S = 30.0


class PlainProgress:
    """The part of tqdm's interface the runs use, writing whole lines."""

    def __init__(self, total: int | None, *, initial: int = 0, desc: str = "",
                 unit: str = "it", file: IO[str] | None = None,
                 every_s: float | None = None) -> None:
        self.total, self.n, self.initial = total, initial, initial
        self.desc, self.unit, self.file = desc, unit, file or sys.stderr
        self.every_s = PLAIN_EVERY_S if every_s is None else every_s
        self.postfix = ""
        self.closed = False
        self._start = self._last = time.monotonic()
        self._line()

    def _line(self) -> None:
        elapsed = time.monotonic() - self._start
        done = f"{self.n}/{self.total}" if self.total is not None else str(self.n)
        share = f" ({100 * self.n / self.total:.0f} %)" if self.total else ""
        rate = (self.n - self.initial) / elapsed if elapsed > 0 else 0.0
        extra = f", {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {done} {self.unit}{share}, {rate:.2f} {self.unit}/s, "
              f"{elapsed:.0f} s{extra}", file=self.file, flush=True)
        self._last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.monotonic() - self._last >= self.every_s:
            self._line()

    def set_postfix(self, refresh: bool = False, **values: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def set_postfix_str(self, text: str, refresh: bool = False) -> None:
        self.postfix = text

    def write(self, text: str, file: IO[str] | None = None) -> None:
        print(text, file=file or self.file, flush=True)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._line()


def on_terminal(stream: IO[str] | None = None) -> bool:
    """Whether `stream` (default stderr) is a terminal, where a redrawn bar belongs."""
    return bool(getattr(stream or sys.stderr, "isatty", lambda: False)())


def progress_bar(total: int | None, *, initial: int = 0, desc: str = "", unit: str = "it",
                 disable: bool = False, file: IO[str] | None = None) -> tqdm | PlainProgress:
    """A tqdm bar when `file` (default stderr) is a terminal, else plain periodic lines."""
    stream = file or sys.stderr
    if disable or on_terminal(stream):
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True,
                    disable=disable, file=stream)
    return PlainProgress(total, initial=initial, desc=desc, unit=unit, file=stream)


def quiet_library_bars(stream: IO[str] | None = None) -> None:
    """Off a terminal, the model libraries' own bars (loading weights, downloads) are off too,
    so they do not interleave with our lines; on a terminal they stay.

    The switch is HF_HUB_DISABLE_PROGRESS_BARS, which the hub reads and the local backend
    follows for transformers' bars."""
    if on_terminal(stream):
        return
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read when the hub is imported
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    # transformers' own bars: the local backend reads the same variable when it loads
    # (backends.huggingface.follow_hub_progress_setting), keeping transformers out of core
