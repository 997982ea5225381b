"""Groups of people named over a respondent file's own columns: `SEX=2`, `AGE=18-29`,
`COUNTRY=USA`, combined with `&` (`SEX=2&AGE=18-29`), several separated by `;`.

A condition is `COLUMN=VALUE` (the cell equals VALUE; numbers compare as numbers, so `SEX=2`
matches a cell `2.0`) or `COLUMN=LO-HI` (a number from LO to HI, both included). The group's
name is the text as given; it is the `steer_to` of the steered rows and the name of the
group's human distribution, so collection and analysis meet on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import UserError

_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$")
GROUP_HELP = "e.g. 'SEX=2;AGE=18-29;COUNTRY=USA' (COLUMN=VALUE or COLUMN=LO-HI, '&' to combine)"


@dataclass(frozen=True)
class Condition:
    column: str
    value: str | None = None  # COLUMN=VALUE
    lo: float | None = None  # COLUMN=LO-HI
    hi: float | None = None

    @property
    def is_range(self) -> bool:
        return self.lo is not None


@dataclass(frozen=True)
class Group:
    name: str  # as given, e.g. "SEX=2&AGE=18-29"
    conditions: tuple[Condition, ...]

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys(c.column for c in self.conditions))


def _condition(text: str, group: str) -> Condition:
    column, sep, value = text.partition("=")
    column, value = column.strip(), value.strip()
    if not sep or not column or not value:
        raise UserError(f"--groups: {text!r} in group {group!r} is not COLUMN=VALUE or "
                        f"COLUMN=LO-HI; {GROUP_HELP}")
    m = _RANGE.match(value)
    if m:
        lo, hi = float(m.group(1)), float(m.group(2))
        if lo > hi:
            raise UserError(f"--groups: {text!r} has its range backwards; write {column}="
                            f"{m.group(2)}-{m.group(1)}")
        return Condition(column, lo=lo, hi=hi)
    return Condition(column, value=value)


def parse_group(text: str) -> Group:
    """One group: conditions joined by '&'."""
    name = text.strip()
    if not name:
        raise UserError(f"--groups: an empty group; {GROUP_HELP}")
    parts = [p for p in name.split("&")]
    return Group(name, tuple(_condition(p, name) for p in parts))


def parse_groups(text: str) -> list[Group]:
    """Groups separated by ';' (a repeated group is kept once)."""
    names = [g.strip() for g in (text or "").split(";") if g.strip()]
    if not names:
        raise UserError(f"--groups is empty; name at least one group, {GROUP_HELP}")
    return [parse_group(n) for n in dict.fromkeys(names)]


def number_text(x: float) -> str:
    """18.0 -> '18', 17.5 -> '17.5'."""
    return str(int(x)) if float(x).is_integer() else str(x)
