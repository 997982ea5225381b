"""Responses the provider's safety system blocked, counted apart from the judge's refusals.

A blocked response reaches the judge as "No Response", which the study's rubric calls a
refusal, so the category shares count it as one. This table tells the two apart: the
provider refusing to answer, and a model's own text that the judge reads as a refusal.
"""

from __future__ import annotations

import pandas as pd

COLUMNS = ("system", "rows", "provider_blocked", "judged_refusal_in_text", "unexplained_empty")


def _flag(frame: pd.DataFrame, column: str) -> pd.Series:
    return (frame[column].astype(bool) if column in frame.columns
            else pd.Series(False, index=frame.index))


def provider_block_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per model: rows, rows the provider blocked, rows whose own text the judge called a
    refusal (blocked and empty rows left out), and empty answers the provider gave no
    reason for."""
    blocked = _flag(frame, "provider_blocked")
    empty = _flag(frame, "unexplained_empty")
    refusal = frame["final_category"].eq("refusal") & ~blocked & ~empty
    table = pd.DataFrame({"system": frame["system"], "blocked": blocked, "refusal": refusal,
                          "empty": empty})
    out = table.groupby("system", sort=True).agg(
        rows=("blocked", "size"), provider_blocked=("blocked", "sum"),
        judged_refusal_in_text=("refusal", "sum"), unexplained_empty=("empty", "sum"),
    ).reset_index()
    return out.astype({c: int for c in COLUMNS[1:]})[list(COLUMNS)]


def provider_block_section(table: pd.DataFrame, markdown_table) -> list[str]:
    """The report's lines for the table (`markdown_table` renders a frame)."""
    return ["## Responses the provider blocked", "",
            markdown_table(table.rename(columns={"system": "model"})), "",
            "`provider_blocked` counts responses the provider's safety system refused to give "
            "(OpenAI's content-policy refusals, Anthropic's stop_reason refusal, Gemini's block "
            "reasons); the judge saw them as \"No Response\" and the shares above count them as "
            "refusal, as the study did. `judged_refusal_in_text` counts the refusals the judge "
            "found in a model's own text. `unexplained_empty` counts empty answers the "
            "provider gave no reason for (no block, not cut off): the judge saw \"No "
            "Response\" too, but they are left out of every share above (coverage counts them "
            "as missing) rather than counted as refusals. Requests that failed (error rows) "
            "are none of these: they were never judged and count as missing under coverage.",
            ""]
