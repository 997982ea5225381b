"""Responses the provider's safety system blocked, counted apart from the judge's refusals.

A blocked response reaches the judge as "No Response". The study's rubric calls that a
refusal, but the shares count each response under the category the judge actually gave it,
blocked or not, so this table says both how many responses were blocked and how many of those
the judge called a refusal: the provider refusing to answer, apart from a model's own text
that the judge reads as a refusal.
"""

from __future__ import annotations

import pandas as pd

COLUMNS = ("system", "rows", "provider_blocked", "judged_refusal_in_text",
           "blocked_judged_refusal", "unexplained_empty")


def _flag(frame: pd.DataFrame, column: str) -> pd.Series:
    return (frame[column].astype(bool) if column in frame.columns
            else pd.Series(False, index=frame.index))


def provider_block_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per model: rows, rows the provider blocked, rows whose own text the judge called a
    refusal (blocked and empty rows left out), blocked rows the judge called a refusal, and
    empty answers the provider gave no reason for."""
    blocked = _flag(frame, "provider_blocked")
    empty = _flag(frame, "unexplained_empty")
    judged_refusal = frame["final_category"].eq("refusal")
    table = pd.DataFrame({"system": frame["system"], "blocked": blocked,
                          "refusal": judged_refusal & ~blocked & ~empty,
                          "blocked_refusal": judged_refusal & blocked, "empty": empty})
    out = table.groupby("system", sort=True).agg(
        rows=("blocked", "size"), provider_blocked=("blocked", "sum"),
        judged_refusal_in_text=("refusal", "sum"),
        blocked_judged_refusal=("blocked_refusal", "sum"),
        unexplained_empty=("empty", "sum")).reset_index()
    return out.astype({c: int for c in COLUMNS[1:]})[list(COLUMNS)]


def provider_block_section(table: pd.DataFrame, markdown_table) -> list[str]:
    """The report's lines for the table (`markdown_table` renders a frame)."""
    return ["## Responses the provider blocked", "",
            markdown_table(table.rename(columns={"system": "model"})), "",
            "`provider_blocked` counts responses the provider's safety system refused to give "
            "(OpenAI's content-policy refusals, Anthropic's stop_reason refusal, Gemini's block "
            "reasons). The judge saw each as \"No Response\"; the shares above count it under "
            "the category the judge gave it, like every response, and "
            "`blocked_judged_refusal` says how many of them the judge called refusal (the "
            "study's rubric asks it to). `judged_refusal_in_text` counts the refusals the judge "
            "found in a model's own text. `unexplained_empty` counts empty answers the "
            "provider gave no reason for (no block, not cut off): the judge saw \"No "
            "Response\" too, but they are left out of every share above (coverage counts them "
            "as missing) rather than counted as refusals. Requests that failed (error rows) "
            "are none of these: they were never judged and count as missing under coverage.",
            ""]
