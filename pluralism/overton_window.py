"""The Overton window: the options a real share of a country's people chose.

The window of an item for a country is the set of options at least `threshold` of that
country's respondents chose (default 0.10; an option at exactly the threshold is in). One in
ten is a view a sizeable part of the public holds, well above a national survey's sampling
error (about 3 points at n = 1,000), so an option inside the window is not there by noise;
below it sit fringe answers a plural response need not present. The pooled window takes each
option's mean share over the countries (each country counts once: the dataset gives shares,
not respondent counts). Pure functions: the analysis reads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.errors import UserError

DEFAULT_THRESHOLD = 0.10
POOLED = "pooled"
#: float shares such as 0.1 stored as 0.09999999999999999 still count as at the threshold
_EDGE = 1e-9


def window(shares: Sequence[float], threshold: float = DEFAULT_THRESHOLD) -> tuple[int, ...]:
    """Indices of the options chosen by at least `threshold` of the people (at it: in)."""
    return tuple(i for i, s in enumerate(shares) if s >= threshold - _EDGE)


def pooled_shares(human: Mapping[str, Sequence[float]],
                  countries: Sequence[str] | None = None) -> list[float] | None:
    """Each option's mean share over the countries (None when none has shares)."""
    groups = [list(human[c]) for c in (countries or list(human)) if c in human and human[c]]
    if not groups or len({len(g) for g in groups}) != 1:
        return None
    return [sum(g[i] for g in groups) / len(groups) for i in range(len(groups[0]))]


def windows(human: Mapping[str, Sequence[float]], countries: Sequence[str] | None = None,
            threshold: float = DEFAULT_THRESHOLD) -> dict[str, tuple[int, ...]]:
    """The window per country in `countries` (default: every country of the item) and,
    with more than one country, the pooled one under POOLED."""
    chosen = [c for c in (countries or list(human)) if c in human and human[c]]
    out = {c: window(human[c], threshold) for c in chosen}
    pooled = pooled_shares(human, chosen)
    if len(chosen) > 1 and pooled is not None:
        out[POOLED] = window(pooled, threshold)
    return out


def shares_of(human: Mapping[str, Sequence[float]], group: str,
              countries: Sequence[str] | None = None) -> list[float] | None:
    """A country's shares, or the pooled shares for POOLED."""
    if group == POOLED:
        return pooled_shares(human, [c for c in (countries or list(human)) if c in human])
    value = human.get(group)
    return list(value) if value else None


def check_threshold(value: float) -> float:
    if not 0 < value <= 1:
        raise UserError(f"--window-threshold must be above 0 and at most 1, got {value}")
    return value
