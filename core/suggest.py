"""'Did you mean …?' for a name the user mistyped (a backend, a task, a country)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """' did you mean 'gpt-4o'?' for the closest known names (case-insensitive), or ''."""
    names = sorted({str(k) for k in known})
    lowered = {n.lower(): n for n in names}
    close = difflib.get_close_matches(str(word).lower(), list(lowered), n=3, cutoff=0.6)
    if not close:
        return ""
    return " did you mean " + " or ".join(repr(lowered[c]) for c in close) + "?"
