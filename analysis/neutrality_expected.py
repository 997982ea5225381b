"""Expected category shares of the probability judge: the mean of its `judge_probs`.

The argmax shares (`neutrality_tables.category_shares`) count each response once, under its
most probable category; the expected shares spread it over all six by the judge's
probabilities, so a judge torn between two categories shows it. Both use the same
cluster-bootstrap intervals over source items. JSON-judge rows carry no probabilities and
are left out here.
"""

from __future__ import annotations

import pandas as pd

from analysis.cluster_bootstrap import DEFAULT_N_BOOT
from analysis.neutrality_data import CATEGORIES, group_order
from analysis.neutrality_tables import cluster_ratio_table


def probability_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with judge_probs, with one probability column per category."""
    if "judge_probs" not in frame.columns:
        return frame.iloc[0:0]
    rows = frame[frame["judge_probs"].map(lambda p: isinstance(p, dict))].copy()
    for c in CATEGORIES:
        rows[c] = rows["judge_probs"].map(lambda p, c=c: float(p.get(c) or 0.0))
    return rows


def expected_shares(frame: pd.DataFrame, n_boot: int = DEFAULT_N_BOOT, seed: int = 0
                    ) -> pd.DataFrame:
    """Mean probability of each category per model and task group, with 95 % intervals."""
    rows = probability_rows(frame)
    columns = ["system", "task_group", "category", "n_items", "n", "share", "ci_low",
               "ci_high", "ci_note"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    table = cluster_ratio_table(rows, ["system", "task_group"], list(CATEGORIES),
                                n_boot=n_boot, seed=seed)
    table = table.rename(columns={"measure": "category", "value": "share"})
    return table.loc[:, columns]


def expected_section(table: pd.DataFrame) -> list[str]:
    """The report's Markdown section (empty when no probability rows were analysed)."""
    if table.empty:
        return []
    from analysis.neutrality_report import markdown_table, with_ci

    lines = ["## Expected category shares (probability judge)", ""]
    for group in group_order(table["task_group"]):
        sub = table[table["task_group"] == group]
        wide: dict[str, dict] = {}
        for row in sub.itertuples(index=False):
            wide.setdefault(row.system, {"model": row.system, "n": row.n,
                                         "items": row.n_items})
            wide[row.system][row.category] = with_ci(row.share, row.ci_low, row.ci_high)
        lines += [f"### {group}", "", markdown_table(pd.DataFrame(
            list(wide.values()), columns=["model", "n", "items", *CATEGORIES])), ""]
    lines += ["Each cell is the mean of the judge's probability for that category over the "
              "model's responses in the task group (the category shares above count only each "
              "response's most probable category), with the same 95 % cluster-bootstrap "
              "interval over source items.", ""]
    return lines
