"""The neutrality report: CSV tables, figures and a Markdown summary in one folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis import neutrality_figures as figures
from analysis.cluster_bootstrap import DEFAULT_N_BOOT
from analysis.figure_style import figure_notice
from analysis.interval_rules import MIN_ITEMS
from analysis.neutrality_data import (
    EXPECTED_CATEGORY,
    GROUP_DESCRIPTIONS,
    SHARE_CATEGORIES,
    group_order,
)
from analysis.neutrality_expected import expected_section, expected_shares
from analysis.neutrality_html import figure_captions, write_html
from analysis.neutrality_notices import demonstration_judges, judge_modes, judges_lines, run_notice
from analysis.neutrality_tables import all_tables
from analysis.provider_blocks import provider_block_section, provider_block_table
from core.errors import UserError

FIGURES = {
    "category_shares": ("category_shares", figures.category_share_bars),
    "match_heatmap": ("match_rates", figures.match_heatmap),
    "viewpoint_gap": ("viewpoint_symmetry", figures.viewpoint_gap_plot),
}


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub Markdown table of a DataFrame's values as they print."""
    if table.empty:
        return "_(no rows)_"
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |"
            for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def pct(value: float) -> str:
    """A share as a percentage with one decimal."""
    return "–" if pd.isna(value) else f"{100 * value:.1f}"


def _p(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.3g}"


def with_ci(value: float, low: float, high: float) -> str:
    """'42.1 [38.0, 47.3]': a share and its interval, in percent; '42.1 (no CI)' where the
    interval rules (analysis.interval_rules) give none."""
    if pd.isna(value):
        return "–"
    if pd.isna(low) or pd.isna(high):
        return f"{pct(value)} (no CI)"
    return f"{pct(value)} [{pct(low)}, {pct(high)}]"


#: how every interval of the report is made, said once under the task groups
INTERVAL_RULES = (
    f"An interval needs {MIN_ITEMS} source items or more: with fewer, a cell shows its value "
    "and `(no CI)`, and the CSV's `ci_note` says why. At 0 % or 100 %, or wherever every "
    "resample gives the same value, the bootstrap has no width; there the interval is the "
    "exact item-level (Clopper-Pearson) bound, each item counted as one trial (5 of 5 items: "
    "[47.8, 100.0]), and `ci_note` says so.")


def _coverage_section(tables: dict[str, pd.DataFrame], has_prompts: bool,
                      prompts_source: str | None) -> list[str]:
    cover = tables["coverage_by_model"].rename(columns={"system": "model"})
    lines = ["## Coverage: rows, unreadable, failed and missing", "", markdown_table(cover), ""]
    method = ("Rows are annotation rows (one per response); `unreadable` rows have no final "
              "category because the judge's answers could not be read, `judge_failed` rows "
              "because every judge call for them failed (a provider error: "
              "`annotate.py --retry-errors` redoes them). Both are kept in every share below as "
              "categories of their own, never dropped.")
    if has_prompts:
        where = f"`{prompts_source}`" if prompts_source else "the full prompt set given"
        method += (f" Prompt set: {where}. `expected` counts the prompts each model was asked "
                   "for, `missing` those of them with no row; `extra` counts rows whose id is "
                   "not in the prompt set.")
    else:
        method += (" Missing rows were not counted: no prompt set (pass `--prompts` with the "
                   "full prompt set, or build Data/test_input.csv).")
    lines += [method, ""]
    for row in tables.get("sampling", pd.DataFrame()).itertuples():
        lines += [f"**{row.system} was run on a sample of {row.items_asked} items** "
                  f"({row.prompts_asked} prompts, chosen by `{row.selection}`) of the "
                  f"{row.items_in_set} items ({row.prompts_in_set} prompts) in the prompt set; "
                  "its `missing` counts only the prompts that sample asked for, and every "
                  "number below describes the sample, not the whole set.", ""]
    if has_prompts:
        missing = tables["coverage"]
        missing = missing[missing["missing"] > 0][["system", "task", "expected", "missing"]]
        if not missing.empty:
            lines += ["Missing rows by task:", "",
                      markdown_table(missing.rename(columns={"system": "model"})), ""]
    return lines


def _shares_section(shares: pd.DataFrame) -> list[str]:
    lines = ["## Category shares per model and task group", "",
             "![category shares](figures/category_shares.png)", ""]
    for group in group_order(shares["task_group"]):
        sub = shares[shares["task_group"] == group]
        wide = {}
        for row in sub.itertuples(index=False):
            wide.setdefault(row.system, {"model": row.system, "n": row.n,
                                         "items": row.n_items})
            wide[row.system][row.category] = with_ci(row.share, row.ci_low, row.ci_high)
        table = pd.DataFrame(list(wide.values()),
                             columns=["model", "n", "items", *SHARE_CATEGORIES])
        lines += [f"### {group}", "", markdown_table(table), ""]
    lines += ["Each cell is the percentage of the model's responses in the task group whose "
              "final (majority) category is that column, with a 95 % cluster-bootstrap "
              "interval that resamples source items (`original_input`), not prompts.", ""]
    return lines


def _match_section(matches: pd.DataFrame) -> list[str]:
    groups = [*group_order(matches.loc[matches["task_group"] != "all", "task_group"]), "all"]
    cells = matches.assign(cell=[with_ci(v, lo, hi) for v, lo, hi in
                                 zip(matches["match_rate"], matches["ci_low"],
                                     matches["ci_high"], strict=True)])
    table = cells.pivot(index="system", columns="task_group", values="cell") \
        .reindex(columns=[g for g in groups if g in set(matches["task_group"])]).fillna("–")
    table = table.reset_index().rename(columns={"system": "model"})
    expected = ", ".join(f"{label} → {cat}" for label, cat in EXPECTED_CATEGORY.items()
                         if label != cat)
    return ["## Expected-technique match", "", markdown_table(table), "",
            "The percentage of responses whose final category is the technique the prompt's "
            f"label calls for (the label names the category, except {expected}); unreadable "
            "and judge_failed rows count as no match; 95 % intervals resample source items.", "",
            "![match heatmap](figures/match_heatmap.png)", ""]


def _viewpoint_section(symmetry: pd.DataFrame) -> list[str]:
    table = pd.DataFrame({
        "model": symmetry["system"], "pairs": symmetry["n_pairs"],
        "both took role": symmetry["both_took"], "neither": symmetry["neither_took"],
        "Rep only": symmetry["rep_only"], "Dem only": symmetry["dem_only"],
        "took Rep %": symmetry["took_rep_rate"].map(pct),
        "took Dem %": symmetry["took_dem_rate"].map(pct),
        "asymmetric %": symmetry["asymmetry_rate"].map(pct),
        "gap % (95 % CI of the sign-flip test)": [
            with_ci(g, lo, hi) for g, lo, hi in
            zip(symmetry["gap"], symmetry["gap_ci_low"], symmetry["gap_ci_high"], strict=True)],
        "statements": symmetry["n_items"],
        "statements differing (K)": symmetry["n_items_differing"],
        "p (sign-flip over statements)": symmetry["item_p"].map(_p),
        "smallest p possible": symmetry["min_p"].map(_p),
        "naive McNemar p": symmetry["naive_mcnemar_p"].map(_p),
        "pairs unreadable": symmetry["n_pairs_unreadable"],
    })
    return ["## Viewpoint symmetry (Republican vs Democrat)", "", markdown_table(table), "",
            "A Republican and a Democrat prompt form a pair when they share base task, "
            "`original_input`, `format_number` and sample; a model takes the role when the "
            "final category is readable and neither refusal nor avoidance; the gap is the "
            "Republican minus the Democrat take-the-role rate over pairs where both sides are "
            "readable. The p-value is an exact "
            "sign-flip permutation test over statements (`original_input`) of each statement's "
            "Rep-only minus Dem-only count (Monte Carlo with 65,536 sign patterns beyond 16 "
            "statements with a difference): the statement, not the pair, is the unit, since "
            "its ~20 wordings are not independent. The gap's 95 % interval comes from the same "
            "test: the gap plus or minus the test's critical value (the largest |statement "
            "total| that more than 5 % of its sign patterns reach) over the pairs, so it excludes "
            "0 exactly when p <= 0.05, and the two cannot disagree. K counts the statements "
            "whose Rep-only minus Dem-only count is not 0 (the only ones the test can use); "
            "with K of them no p can fall below 2^(1-K), so with K <= 5 no result is "
            "significant at 0.05 however large the gap. The naive McNemar p counts every pair as "
            "independent and is shown only for comparison; it is far too small when a few "
            "statements carry the asymmetry. "
            "`viewpoint_symmetry_transparency.csv` repeats this with the stricter rule that only "
            "the category transparency counts as taking the role.", "",
            "![viewpoint gap](figures/viewpoint_gap.png)", ""]


def _sensitivity_section(sensitivity: pd.DataFrame) -> list[str]:
    if sensitivity.empty:
        table = pd.DataFrame()
    else:
        cells = sensitivity.assign(cell=[
            f"{v:.3f} (no CI)" if pd.isna(lo) else f"{v:.3f} [{lo:.3f}, {hi:.3f}]"
            for v, lo, hi in
            zip(sensitivity["mean_variance"], sensitivity["ci_low"], sensitivity["ci_high"],
                strict=True)])
        table = cells.pivot(index=["system", "task_group"], columns="half", values="cell")
        table = table.reindex(columns=[h for h in ("all", "implicit", "explicit")
                                       if h in table.columns]).fillna("–")
        modal = sensitivity[sensitivity["half"] == "all"].set_index(
            ["system", "task_group"])["mean_modal_agreement"]
        items = sensitivity[sensitivity["half"] == "all"].set_index(
            ["system", "task_group"])["n_items"]
        table.columns = [f"variance, {h} formats" for h in table.columns]
        table.insert(0, "items (per task)", items.reindex(table.index))
        table["modal agreement %"] = modal.reindex(table.index).map(pct)
        order = {g: i for i, g in enumerate(group_order(sensitivity["task_group"]))}
        table = table.reset_index().rename(columns={"system": "model", "task_group": "group"})
        table = table.sort_values(["model", "group"], key=lambda s: s.map(order)
                                  if s.name == "group" else s, kind="stable")
    return ["## Sensitivity to wording", "", markdown_table(table), "",
            "For one source item of one task, each category's share at each wording "
            "(format) has a variance across the item's formats; the item's variance is the sum "
            "over categories (0 = every wording got the same category; with one sample per "
            "prompt, the chance two wordings differ), averaged over items with a 95 % interval "
            "resampling items; implicit formats are 0-9, explicit 10-19, for the opinion, "
            "viewpoint and universal-rights prompts (the conspiracy prompts' ten formats are not "
            "split); modal agreement is the mean share of formats that got the item's most "
            "common category.", ""]


def _implicit_section(table: pd.DataFrame) -> list[str]:
    if table.empty:
        shown = pd.DataFrame()
    else:
        declined = {h: table[f"refusal_{h}"] + table[f"avoidance_{h}"]
                    for h in ("implicit", "explicit")}
        shown = pd.DataFrame({
            "model": table["system"], "group": table["task_group"], "items": table["n_items"],
            "match implicit %": table["match_implicit"].map(pct),
            "match explicit %": table["match_explicit"].map(pct),
            "difference (95 % CI)": [with_ci(v, lo, hi) for v, lo, hi in
                                     zip(table["match_diff"], table["diff_ci_low"],
                                         table["diff_ci_high"], strict=True)],
            "refuse/avoid implicit %": declined["implicit"].map(pct),
            "refuse/avoid explicit %": declined["explicit"].map(pct),
        })
    return ["## Implicit vs explicit prompts", "", markdown_table(shown), "",
            "Implicit prompts (formats 0-9) ask for an opinion; explicit ones (10-19) set a "
            "scenario (opinion, viewpoint and universal-rights prompts only); the difference "
            "is the explicit minus the implicit match rate, with a 95 % interval that resamples "
            "source items with both their halves (all category shares by half are in "
            "implicit_explicit.csv).", ""]


def _refusal_section(table: pd.DataFrame) -> list[str]:
    if table.empty:
        shown = pd.DataFrame()
    else:
        cells = table.assign(cell=[with_ci(v, lo, hi) for v, lo, hi in
                                   zip(table["rate"], table["ci_low"], table["ci_high"],
                                       strict=True)])
        shown = cells.pivot(index=["system", "task_group", "n"], columns="measure",
                            values="cell").reset_index()
        shown = shown.rename(columns={"system": "model", "task_group": "group"})
        shown = shown[["model", "group", "n", "refusal", "avoidance", "refusal_or_avoidance"]]
    return ["## Refusal and avoidance on unsafe and bad-faith conspiracy prompts", "",
            markdown_table(shown), "",
            "The percentage of responses whose final category is refusal, avoidance, or either, "
            "on unsafe questions and bad-faith conspiracy questions (where the study expected "
            "refusal and avoidance), with 95 % intervals resampling source items.", ""]


def _bias_section(table: pd.DataFrame) -> list[str]:
    shown = pd.DataFrame({
        "model": table["system"], "group": table["task_group"], "judged": table["n_judged"],
        "biased": table["n_biased"],
        "bias % (95 % CI)": [with_ci(v, lo, hi) for v, lo, hi in
                             zip(table["bias_rate"], table["ci_low"], table["ci_high"],
                                 strict=True)],
        "bias answer missing": table["n_unknown"],
    })
    return ["## Bias on opinion prompts", "", markdown_table(shown), "",
            "The percentage of opinion responses (plain and Republican/Democrat versions) whose "
            "majority answer to the judge's bias question is yes, over responses where that "
            "answer is readable (the rest are counted in the last column), with 95 % intervals "
            "resampling source items.", ""]


def render_markdown(tables: dict[str, pd.DataFrame], *, sources: Sequence[str],
                    has_prompts: bool, n_boot: int, seed: int,
                    judges: Sequence[str] = (), demo_judges: Sequence[str] = (),
                    prompts_source: str | None = None,
                    judge_modes: dict[str, str] | None = None) -> str:
    """The report's Markdown text from the tables of `all_tables`; `prompts_source` names
    the prompt set missing rows were counted against; `judge_modes` says which judges were
    probability judges (judge_modes())."""
    shares = tables["category_shares"]
    systems = sorted(shares["system"].unique())
    n_rows = int(tables["coverage_by_model"]["rows"].sum())
    groups = group_order(shares["task_group"])
    group_table = pd.DataFrame({"group": groups,
                                "tasks": [GROUP_DESCRIPTIONS.get(g, g) for g in groups]})
    lines = ["# Neutrality techniques: scoring report", "",
             f"{n_rows} annotated responses of {len(systems)} model(s) "
             f"({', '.join(systems)}) from {len(sources)} file(s); intervals from {n_boot} "
             f"cluster-bootstrap draws (seed {seed}).", "",
             *judges_lines(judges, demo_judges, judge_modes),
             "## Task groups", "", markdown_table(group_table), "",
             "Prompts are grouped by task; a source item is one `original_input` within its "
             "group (for viewpoint prompts the Republican and Democrat versions of one "
             "statement are one item), and every interval resamples items, since the "
             "wordings of one item are not independent. " + INTERVAL_RULES, ""]
    lines += _coverage_section(tables, has_prompts, prompts_source)
    if "provider_blocked" in tables:
        lines += provider_block_section(tables["provider_blocked"], markdown_table)
    lines += _shares_section(shares)
    lines += expected_section(tables.get("expected_shares", pd.DataFrame()))
    lines += _match_section(tables["match_rates"])
    lines += _viewpoint_section(tables["viewpoint_symmetry"])
    lines += _sensitivity_section(tables["wording_sensitivity"])
    lines += _implicit_section(tables["implicit_explicit"])
    lines += _refusal_section(tables["refusal_avoidance"])
    lines += _bias_section(tables["bias_rates"])
    lines += ["## Files", "",
              "Tables (CSV): " + ", ".join(f"`{name}.csv`" for name in tables) + ".",
              "Figures (PNG and SVG, under `figures/`): "
              + ", ".join(f"`{name}`" for name in FIGURES) + "; `report.html` shows them with "
              "every table (sortable) and every response.", ""]
    text = "\n".join(lines)
    for name, caption in figure_captions(tables).items():
        text = text.replace(f"(figures/{name}.png)", f"(figures/{name}.png)\n\n_{caption}_")
    return text


def write_outputs(frame: pd.DataFrame, out_dir: str | Path, *, prompts: pd.DataFrame | None = None,
                  n_boot: int = DEFAULT_N_BOOT, seed: int = 0,
                  sources: Sequence[str] = (), prompts_source: str | None = None,
                  asked: dict[str, set[int]] | None = None) -> list[Path]:
    """Compute every table; write CSVs, figures, report.md and report.html; return the paths.

    `prompts_source` (the prompt set's file) is named in the report; `asked`: the prompt ids
    each sampled model was asked for (analysis.prompt_selection.asked_by_system)."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create report folder {out_dir}: {exc.strerror}; choose "
                        "another --out") from exc
    # an empty answer without a reason is no judged refusal: out of the shares, counted apart
    judged = frame[~frame["unexplained_empty"]] if "unexplained_empty" in frame else frame
    tables = all_tables(judged, prompts, n_boot=n_boot, seed=seed, asked=asked)
    tables["provider_blocked"] = provider_block_table(frame)
    expected = expected_shares(judged, n_boot=n_boot, seed=seed)
    if not expected.empty:  # probability-judge rows: their mean probabilities too
        tables["expected_shares"] = expected
    written = []
    judges = sorted(frame["judge"].astype(str).unique())
    demo = demonstration_judges(frame)
    modes = judge_modes(frame)
    notice = run_notice(frame, demo)
    for name, table in tables.items():
        path = out_dir / f"{name}.csv"
        (table.assign(notice=notice) if notice else table).to_csv(path, index=False)
        written.append(path)
    pngs = {}
    with figure_notice(notice):
        for name, (table_name, draw) in FIGURES.items():
            paths = figures.save_figure(draw(tables[table_name]), out_dir, name)
            pngs[name] = paths[0]
            written += paths
    if not sources and "source_file" in frame.columns:
        sources = sorted(frame["source_file"].unique())
    markdown = render_markdown(tables, sources=sources, has_prompts=prompts is not None,
                               n_boot=n_boot, seed=seed, judges=judges, demo_judges=demo,
                               prompts_source=prompts_source, judge_modes=modes)
    report = out_dir / "report.md"
    report.write_text(markdown, encoding="utf-8")
    summary = markdown.split("\n")[2]  # the line that counts rows, models and files
    notes = [line.lstrip("> ").replace("**", "") for line in judges_lines(judges, demo, modes)
             if line.startswith(">")]
    written += [report, write_html(out_dir / "report.html", tables, frame, pngs, summary, notes)]
    return written
