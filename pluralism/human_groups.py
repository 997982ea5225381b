"""Human MPI answer distributions of groups of respondents (steerable pluralism's targets).

A group (pluralism.groups: `SEX=2`, `AGE=18-29`, `COUNTRY=USA`, `SEX=2&AGE=18-29`) selects
rows of the IPIP-NEO-120 response file by its own columns (Johnson's file has SEX: 1 male,
2 female; AGE in years; COUNTRY); each item's distribution is counted over the group's rows
exactly as pluralism.human_mpi counts everyone's (the same recoding of minus-keyed items,
answers of 0 or empty left out).

A group smaller than MIN_GROUP_RESPONDENTS is refused. Why 200: a distribution over 5 answers
counted from n people lies, by sampling alone, about sqrt(0.72 / n) from its population's in
Jensen-Shannon distance (base 2; the expected divergence is about (k - 1) / (8 n ln 2)). At
n = 200 that floor is about 0.06, small beside the 0.2-0.5 that separate models from people,
and under the distances between human groups; at n = 50 it would be 0.12, and a group's own
noise would pass for a model's distance to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import UserError
from core.suggest import did_you_mean
from pluralism.groups import Condition, Group
from pluralism.human_mpi import _delimiter, distributions_from_responses, read_responses

MIN_GROUP_RESPONDENTS = 200


@dataclass(frozen=True)
class HumanGroup:
    """One group's per-item distributions over the letters A..E."""

    name: str  # the group as given, e.g. "SEX=2"
    probs: np.ndarray  # (items, 5); NaN rows where nobody in the group answered
    answered: np.ndarray  # (items,) people of the group who answered each item
    respondents: int  # rows of the file in the group


def read_columns(path: str | Path, columns: Sequence[str]) -> dict[str, np.ndarray]:
    """The named columns of the response file, as text (only those columns are parsed)."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise UserError(f"MPI human response file {path} does not exist; check --mpi-human")
    sep = _delimiter(path)
    header = [str(c).strip() for c in
              pd.read_csv(path, sep=sep, nrows=0, encoding="utf-8-sig").columns]
    for column in columns:
        if column not in header:
            raise UserError(f"{path} has no column {column!r} to select a group by;"
                            f"{did_you_mean(column, header)} (the file's own column names)")
    frame = pd.read_csv(path, sep=sep, encoding="utf-8-sig", dtype=str,
                        keep_default_na=False,
                        usecols=lambda c: str(c).strip() in set(columns))
    frame.columns = [str(c).strip() for c in frame.columns]
    return {c: frame[c].str.strip().to_numpy(dtype=object) for c in columns}


def _matches(cells: np.ndarray, c: Condition) -> np.ndarray:
    numbers = np.array([_number(x) for x in cells], dtype=np.float64)
    if c.is_range:
        return (numbers >= (c.lo or 0)) & (numbers <= (c.hi or 0))
    wanted = _number(c.value or "")
    same_text = cells == c.value
    return same_text | (np.isfinite(wanted) & (numbers == wanted))


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def group_mask(columns: dict[str, np.ndarray], group: Group) -> np.ndarray:
    """Which rows belong to the group (every condition holds)."""
    n = len(next(iter(columns.values())))
    mask = np.ones(n, dtype=bool)
    for c in group.conditions:
        mask &= _matches(columns[c.column], c)
    return mask


def human_group_distributions(path: str | Path, groups: Sequence[Group], keys: Sequence[int],
                              recode_minus_keyed: bool = True,
                              min_respondents: int = MIN_GROUP_RESPONDENTS
                              ) -> list[HumanGroup]:
    """Each group's per-item distributions from the response file; a group with fewer than
    `min_respondents` rows is a UserError naming its size."""
    columns = read_columns(path, sorted({c for g in groups for c in g.columns}))
    values = read_responses(path, len(keys))
    out = []
    for group in groups:
        mask = group_mask(columns, group)
        size = int(mask.sum())
        if size < min_respondents:
            raise UserError(f"group {group.name!r} has {size} respondents in {path}, under the "
                            f"minimum of {min_respondents}; widen it or leave it out")
        probs, answered = distributions_from_responses(values[mask], keys, recode_minus_keyed)
        out.append(HumanGroup(group.name, probs, answered, size))
    return out
