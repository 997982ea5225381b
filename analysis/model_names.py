"""One name per model in every table, figure and --pair of every report.

A model goes by the name its run was given: the study's output label (`label`, the study's
--model) where a row has one, else its registry name (`backend`: `smollm2-135m-instruct`),
else the model id it ran (`model`: a Hugging Face id or folder). The exact model id and version
stay in their own columns, and a --pair (or any name a user types) may use any of them.
Neutrality rows already call the registry name `model` (harness.schema.RENAMED), so both
reports name a model alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.errors import UserError
from core.suggest import did_you_mean


def model_name(row: Mapping[str, Any]) -> str:
    """The name a distribution row's model goes by in the reports."""
    for key in ("label", "backend", "model"):
        value = row.get(key)
        if value:
            return str(value)
    return ""


def name_lookup(models: Iterable[tuple[str, Iterable[str | None]]]) -> dict[str, str]:
    """Every name a user may type for a model -> the name the reports use: the report name
    itself, and each other name of it (model id, model version, registry name) that stands
    for exactly one model. `models`: (report name, its other names)."""
    names: dict[str, str] = {}
    others: dict[str, set[str]] = {}
    for name, aliases in models:
        names[name] = name
        for alias in aliases:
            if alias:
                others.setdefault(str(alias), set()).add(name)
    for alias, owners in others.items():
        if len(owners) == 1 and alias not in names:
            names[alias] = next(iter(owners))
    return names


def unknown_model(what: str, typed: Iterable[str], names: Mapping[str, str]) -> UserError:
    """The one-line refusal of a name no model goes by, with the closest known names."""
    typed = list(typed)
    hints = "".join(did_you_mean(t, names) for t in typed)
    return UserError(f"{what} names unknown model(s) {', '.join(map(repr, typed))};{hints} "
                     f"known models: {', '.join(sorted(set(names.values()))) or 'none'}")
