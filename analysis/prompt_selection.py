"""What a sampled run asked for: the prompts its --tasks/--sample/--seed/--limit chose.

generate.py writes the selection into every row (`selection`), and annotate.py carries it on.
Replaying it on the same prompt set gives the prompt ids the run asked for, so "missing" counts
only those, and the report can say the run was a sample of K items.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from neutrality.prompt_set import load_prompts as load_prompt_rows
from neutrality.prompt_set import select_prompts


def selections_by_system(frame: pd.DataFrame) -> dict[str, list[dict[str, Any] | None]]:
    """The distinct selections (None: the whole prompt set) of each model's rows."""
    if "selection" not in frame.columns:
        return {}
    out: dict[str, list[dict[str, Any] | None]] = {}
    for system, texts in frame.groupby("system")["selection"]:
        out[str(system)] = [None if t is None else json.loads(t) for t in texts.unique()]
    return out


def asked_ids(prompts_path: str | Path, selections: list[dict[str, Any] | None]
              ) -> set[int] | None:
    """Ids of the prompts the selections chose from the prompt set (as generate.py read it);
    None when some rows were run on the whole set."""
    chosen_by = [s for s in selections if s is not None]
    if not chosen_by or len(chosen_by) < len(selections):
        return None
    rows = load_prompt_rows(prompts_path)
    ids: set[int] = set()
    for s in chosen_by:
        chosen = select_prompts(rows, tasks=s.get("tasks"), sample=s.get("sample"),
                                seed=int(s.get("seed") or 0), limit=s.get("limit"))
        ids.update(r["id"] for r in chosen)
    return ids


def describe(selection: dict[str, Any] | None) -> str:
    """A selection as the generate.py flags that made it, e.g. '--sample 5 --seed 0'."""
    if selection is None:
        return "the whole prompt set"
    parts = []
    if selection.get("tasks"):
        parts.append("--tasks " + ",".join(selection["tasks"]))
    if selection.get("sample") is not None:
        parts.append(f"--sample {selection['sample']} --seed {selection.get('seed') or 0}")
    if selection.get("limit") is not None:
        parts.append(f"--limit {selection['limit']}")
    return " ".join(parts)


def asked_by_system(frame: pd.DataFrame, prompts_path: str | Path | None
                    ) -> dict[str, set[int]]:
    """Per model whose rows all come from a selection: the prompt ids it asked for."""
    if prompts_path is None:
        return {}
    out = {}
    for system, selections in selections_by_system(frame).items():
        ids = asked_ids(prompts_path, selections)
        if ids is not None:
            out[system] = ids
    return out


def sample_table(frame: pd.DataFrame, prompts: pd.DataFrame,
                 asked: dict[str, set[int]]) -> pd.DataFrame:
    """Per sampled model: its selection, prompts asked, and source items asked (an item is one
    `original_input` within its task group, as everywhere in the report)."""
    selections = selections_by_system(frame)
    out = []
    for system, ids in sorted(asked.items()):
        mine = prompts[prompts["id"].isin(ids)]
        items = mine[["task_group", "original_input"]].drop_duplicates()
        out.append({"system": system,
                    "selection": "; ".join(describe(s) for s in selections[system]),
                    "prompts_asked": len(mine), "items_asked": len(items),
                    "prompts_in_set": len(prompts),
                    "items_in_set": len(prompts[["task_group", "original_input"]]
                                        .drop_duplicates())})
    return pd.DataFrame(out, columns=["system", "selection", "prompts_asked", "items_asked",
                                      "prompts_in_set", "items_in_set"])
