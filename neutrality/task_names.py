"""Task names of the neutrality prompts: a viewpoint task is a base task plus _rep or _dem.

Kept apart from the analysis (pandas) so that prompt selection can use it cheaply.
"""

from __future__ import annotations

SIDES = {"_rep": "rep", "_dem": "dem"}


def split_task(task: str) -> tuple[str, str | None]:
    """(base task, side) for a task name: 'political_opinion_pct_rep' -> ('..._pct', 'rep')."""
    for suffix, side in SIDES.items():
        if task.endswith(suffix):
            return task[: -len(suffix)], side
    return task, None
