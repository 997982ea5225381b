"""One item's distribution row from its repetitions' request rows.

Each repetition is read by the collection's method: exact letter log-probabilities (a local
model), the top first-token log-probabilities of an API (letters missing from the list are
imputed and flagged), or sampled answers (an estimate, flagged). The item's distribution is
the mean over its repetitions; a failed request leaves the item without one (an error row).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from core.clock import utc_now
from pluralism.items import SurveyItem
from pluralism.letters import (
    FLAG_IMPUTED,
    FLAG_NO_LETTER,
    FLAG_REFUSED,
    FLAG_SAMPLED,
    RepDistribution,
    distribution,
    letters_from_samples,
    letters_from_top_logprobs,
)
from pluralism.prompts import DatasetTemplate, letters_for
from pluralism.steering import SteerTarget


def rep_distribution(method: str, rows: list[dict[str, Any]], letters: tuple[str, ...]
                     ) -> tuple[RepDistribution | None, set[str]]:
    """One repetition's distribution from its request row(s), and the flags it raises."""
    flags: set[str] = set()
    answered = [r for r in rows if r.get("provider_message") is None]
    if len(answered) < len(rows):
        flags.add(FLAG_REFUSED)
    if method == "logprobs":
        lps = rows[0]["letter_logprobs"]
        return distribution([math.exp(x) for x in lps]), flags
    if method == "sampling":
        flags.add(FLAG_SAMPLED)
        if not answered:
            return None, flags
        return letters_from_samples([r.get("response") for r in answered], letters), flags
    if not answered:
        return None, flags
    dist = letters_from_top_logprobs(answered[0].get("first_token_logprobs"), letters)
    if dist is None:
        flags.add(FLAG_NO_LETTER)
    elif dist.imputed:
        flags.add(FLAG_IMPUTED)
    return dist, flags

def assemble_item(item: SurveyItem, rows: list[dict[str, Any]], *, method: str, reps: int,
                  template: DatasetTemplate, dataset: str, model_id: str, backend: str,
                  label: str | None, params: dict[str, Any], model_version: str | None,
                  steer: SteerTarget | None = None) -> dict[str, Any]:
    """The item's row from its requests' rows (ordered by repetition, then sample).

    `params` is the run's identity (Collection.row_params); `model_version` the one the run
    saw, for rows that carry none; `steer` the target a steered item was asked as. Rows of
    another run (run_id) are never mixed in."""
    runs = {r.get("run_id") for r in rows} - {params.get("run_id")}
    if runs:
        raise ValueError(f"item {item.item_id}: request rows of another run "
                         f"{sorted(map(str, runs))} given to run {params.get('run_id')}")
    options = template.options_of(item)
    letters = letters_for(len(options))
    by_rep: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_rep[int(r["rep"])].append(r)
    errors = [r["error"] for r in rows if r.get("error")]
    flags: set[str] = set()
    rep_probs: list[list[float] | None] = []
    rep_raw: list[list[float] | None] = []
    masses: list[float] = []
    for rep in range(reps):
        dist, f = (None, set()) if errors else rep_distribution(method, by_rep[rep], letters)
        flags |= f
        rep_probs.append(None if dist is None or dist.probs is None
                         else [round(p, 8) for p in dist.probs])
        rep_raw.append(None if dist is None else [round(p, 8) for p in dist.raw])
        masses.append(0.0 if dist is None else round(dist.letter_mass, 8))
    usable = [p for p in rep_probs if p is not None]
    probs = ([round(sum(col) / len(usable), 8) for col in zip(*usable, strict=True)]
             if usable and not errors else None)
    first = by_rep[0][0] if by_rep.get(0) else {}
    row: dict[str, Any] = {
        "dataset": dataset, "item_id": item.item_id,
        "steer_to": steer.steer_to if steer else None,
        "steer_text": steer.text if steer else None, "question": item.question,
        "options": list(options), "letters": list(letters),
        "probs": probs, "rep_probs": rep_probs, "rep_letter_probs": rep_raw,
        "letter_mass": masses, "flags": sorted(flags),
        "prompts": [by_rep[r][0].get("input") for r in range(reps)],
        "drawn": [by_rep[r][0].get("drawn") for r in range(reps)],
        "method": method, "model": model_id,
        "model_version": first.get("model_version") or model_version,
        "backend": backend, "label": label, "params": params, "meta": item.meta,
        "error": "; ".join(sorted(set(errors)))[:500] if errors else None,
        "created_at": utc_now(),
    }
    if method == "logprobs":
        row["top_tokens"] = [by_rep[r][0].get("top_tokens") for r in range(reps)]
        # from the repetition rows, so an item assembled on resume keeps them too
        row["params"]["letter_token_ids"] = shared_letter_token_ids(
            [by_rep[r][0] for r in range(reps)])
    elif method == "top_logprobs":
        row["top_logprobs"] = [by_rep[r][0].get("first_token_logprobs")
                               for r in range(reps)]
    else:
        row["responses"] = [[x.get("response") for x in by_rep[r]]
                            for r in range(reps)]
    if item.human is not None:
        row["human"] = item.human
    return row




def answered_without_logprobs(row: dict[str, Any]) -> bool:
    """A request row whose answer has text but no first-token log-probabilities at all.

    An empty answer (a safety block) has no token to read and is not counted: its item is
    flagged no_option_letter, as is one whose top list holds no option letter."""
    return (not row.get("error") and row.get("provider_message") is None
            and bool(row.get("response")) and not row.get("first_token_logprobs"))


def shared_letter_token_ids(rows: list[dict[str, Any]]) -> Any:
    """The letter token ids an item's repetitions were read with: one {letter: ids} when
    they agree (an item's prompts all end alike), else a list with one per repetition."""
    ids = [r.get("letter_token_ids") for r in rows]
    return ids[0] if all(x == ids[0] for x in ids) else ids
