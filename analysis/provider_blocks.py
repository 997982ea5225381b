"""Responses the provider's safety system blocked, counted apart from the judge's refusals.

A blocked response reaches the judge as "No Response", which the study's rubric calls a
refusal, so the category shares count it as one. This table tells the two apart: the
provider refusing to answer, and a model's own text that the judge reads as a refusal.
"""

from __future__ import annotations

import pandas as pd

COLUMNS = ("system", "rows", "provider_blocked", "judged_refusal_in_text")


def provider_block_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per model: rows, rows the provider blocked, and rows whose own text the judge
    called a refusal (blocked rows left out)."""
    blocked = (frame["provider_blocked"].astype(bool) if "provider_blocked" in frame.columns
               else pd.Series(False, index=frame.index))
    refusal = frame["final_category"].eq("refusal") & ~blocked
    table = pd.DataFrame({"system": frame["system"], "blocked": blocked, "refusal": refusal})
    out = table.groupby("system", sort=True).agg(
        rows=("blocked", "size"), provider_blocked=("blocked", "sum"),
        judged_refusal_in_text=("refusal", "sum")).reset_index()
    return out.astype({c: int for c in COLUMNS[1:]})[list(COLUMNS)]


def provider_block_section(table: pd.DataFrame, markdown_table) -> list[str]:
    """The report's lines for the table (`markdown_table` renders a frame)."""
    return ["## Responses the provider blocked", "",
            markdown_table(table.rename(columns={"system": "model"})), "",
            "`provider_blocked` counts responses the provider's safety system refused to give "
            "(OpenAI's content-policy refusals, Anthropic's stop_reason refusal, Gemini's block "
            "reasons); the judge saw them as \"No Response\" and the shares above count them as "
            "refusal, as the study did. `judged_refusal_in_text` counts the refusals the judge "
            "found in a model's own text. Requests that failed (error rows) are neither: they "
            "were never judged and count as missing under coverage.", ""]
