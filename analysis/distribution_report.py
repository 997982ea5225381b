"""The Markdown report of the distribution analysis: a table per question, one sentence of method
under each, so that it reads on its own."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis.distribution_html import figure_caption, write_html
from analysis.distribution_run import DATASET_TITLES, DatasetResult, Settings
from analysis.interval_rules import MIN_ITEMS
from analysis.steerability_report import steer_section

# The study's notebook (Llama-2-13B vs Llama-2-13B-chat on GlobalOpinionQA), for orientation only.
STUDY_REFERENCE = [
    ("JS distance to Japan", "0.403", "0.551"),
    ("JS distance to the United States", "0.373", "0.534"),
    ("model entropy (nats)", "1.19", "0.51"),
]
STUDY_HUMAN_ENTROPY = ("United States 0.99, Japan 0.96 (nats; averaged only over the items "
                       "with no zero share, see below)")
#: why the study's numbers differ from ours (docs/differences.md has each one in full)
STUDY_DIFFERENCES = (
    "its model distribution was a softmax over the options of summed logits (per letter, the "
    "first-step scores of `generate()`, which are taken after the model's generation "
    "settings, averaged over 5 repetitions), where ours adds each letter's token probabilities "
    "from a plain forward pass",
    "its human entropy averaged only the items with no zero share (0 log 0 gave NaN and "
    "`nanmean` dropped those items); ours averages every item",
    "its MPI human distribution came from `value_counts()[1:]`, which drops each item's most "
    "frequent answer, and the model's distribution was cut to that length",
    "its shuffled baseline used one permutation per item; ours averages ten",
    "it sent the GlobalOpinionQA question as stored; ours strips surrounding whitespace",
    "its in-context examples' letters came from one global random stream; ours seeds each "
    "(item, repetition)",
)


#: when an interval is left out or replaced (analysis.interval_rules), said once
INTERVAL_RULES = (
    f"An interval needs {MIN_ITEMS} items or more (`(no CI)` with fewer; the CSVs' `ci_note` "
    "says why); where every resample gives the same mean, a measure between 0 and 1 gets the "
    "exact item-level (Clopper-Pearson) bound instead, and any other measure no interval.")


def _num(x: float, digits: int = 3) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _ci(mean: float, low: float, high: float) -> str:
    if not math.isfinite(mean):
        return "–"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{mean:.3f} (no CI)"  # analysis.interval_rules: too few items, or collapsed
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def _p(p: float) -> str:
    if not math.isfinite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return lines


def _metric(summary: pd.DataFrame, model: str, metric: str, group: str = "") -> pd.Series:
    hit = summary[(summary["model"] == model) & (summary["metric"] == metric)
                  & (summary["group"] == group)]
    return hit.iloc[0]


def _flags(table: pd.DataFrame, model: str) -> str:
    counts: Counter[str] = Counter()
    for flags in table.loc[table["model"] == model, "flags"]:
        counts.update(f for f in str(flags).split(";") if f)
    return ", ".join(f"{name} ({n})" for name, n in sorted(counts.items())) or "none"


def _distance_section(r: DatasetResult, s: Settings) -> list[str]:
    js = r.summary[(r.summary["metric"] == "js") & (r.summary["n_items"] > 0)]
    if js.empty:
        return []
    rows = []
    for _, row in js.iterrows():
        base = _metric(r.summary, row["model"], "js_shuffled", row["group"])
        rows.append([row["model"], row["group"], _ci(row["mean"], row["ci_low"], row["ci_high"]),
                     _ci(base["mean"], base["ci_low"], base["ci_high"]), str(row["n_items"])])
    return ["### How close is each model to each human group?", "",
            *_table(["model", "human group", "JS distance [95 % CI]",
                     "shuffled baseline [95 % CI]", "items"], rows), "",
            "Mean over items of the Jensen-Shannon distance (base 2: 0 = the same distribution, "
            "1 = no overlap) between the model's and the group's answer distribution; the "
            f"baseline is the same distance with the model's probabilities permuted over the "
            f"options ({s.shuffles} seeded permutations per item, seed {s.seed}); intervals are "
            f"percentile bootstraps over items ({s.n_boot} resamples). {INTERVAL_RULES}", ""]


def _entropy_section(r: DatasetResult, s: Settings) -> list[str]:
    rows = []
    for model in r.models:
        ent = _metric(r.summary, model, "model_entropy")
        mass = _metric(r.summary, model, "letter_mass")
        rows.append([model, _ci(ent["mean"], ent["ci_low"], ent["ci_high"]), _num(mass["mean"]),
                     str(ent["n_items"]), _flags(r.table, model)])
    for _, row in r.humans[r.humans["metric"] == "human_entropy"].iterrows():
        if row["n_items"] > 0:
            rows.append([f"{row['group']} (people)",
                         _ci(row["mean"], row["ci_low"], row["ci_high"]), "", str(row["n_items"]),
                         ""])
    return ["### How spread out are the answers?", "",
            *_table(["distribution of", "entropy, nats [95 % CI]", "letter mass", "items",
                     "flagged rows"], rows), "",
            "Shannon entropy (natural log) of each item's answer distribution, averaged over "
            "items (a uniform answer over 5 options has ln 5 = 1.61); letter mass is the share of "
            "the model's next-token probability that fell on the option letters, averaged over "
            "items and repetitions (a low share means the model was not answering the item).", ""]


def _humans_section(r: DatasetResult, s: Settings) -> list[str]:
    pairs = r.humans[(r.humans["metric"] == "js_humans") & (r.humans["n_items"] > 0)]
    if pairs.empty:
        return []
    rows = [[row["group"].replace("|", " vs "), _ci(row["mean"], row["ci_low"], row["ci_high"]),
             str(row["n_items"])] for _, row in pairs.iterrows()]
    return ["### How far apart are the human groups?", "",
            *_table(["groups", "JS distance [95 % CI]", "items"], rows), "",
            "The same Jensen-Shannon distance between two human groups' distributions on each "
            "item the models answered, averaged over items: a model cannot be close to both "
            "groups where they are far apart.", ""]


def _pairs_section(r: DatasetResult, s: Settings) -> list[str]:
    if r.pairs.empty:
        return []
    rows = []
    for _, row in r.pairs.iterrows():
        metric = ("model entropy" if row["metric"] == "model_entropy"
                  else f"JS distance to {row['group']}")
        rows.append([f"{row['pretrained']} → {row['aligned']}", metric, str(row["n_items"]),
                     _num(row["mean_pretrained"]), _num(row["mean_aligned"]),
                     _ci(row["mean_diff"], row["diff_ci_low"], row["diff_ci_high"]),
                     _num(row["wilcoxon_w"], 1), _p(row["p_value"])])
    return ["### Does alignment move the model? (pretrained vs aligned)", "",
            *_table(["pretrained → aligned", "measure", "items", "pretrained", "aligned",
                     "difference [95 % CI]", "Wilcoxon W", "p"], rows), "",
            "On the items both models answered: the difference is aligned minus pretrained, its "
            "interval a paired percentile bootstrap over items, and p the two-sided Wilcoxon "
            "signed-rank test on the per-item values (scipy).", ""]


def _figures_section(r: DatasetResult, out_dir: Path) -> list[str]:
    pngs = [p for p in r.figures if p.suffix == ".png"]
    if not pngs:
        return []
    lines = ["### Figures", ""]
    for p in pngs:
        rel = p.relative_to(out_dir) if p.is_relative_to(out_dir) else p
        lines += [f"![{p.stem}]({rel.as_posix()})", "", f"_{figure_caption(p, r)}_", ""]
    lines += ["Every figure is also written as SVG.", ""]
    return lines


def _reps_text(reps: set[int]) -> str:
    if not reps:
        return "repetitions not recorded"
    if len(reps) > 1:
        return f"{min(reps)} to {max(reps)} repetitions per item (runs with other settings)"
    n = next(iter(reps))
    return ("1 repetition per item: one draw of in-context examples, nothing averaged"
            if n == 1 else f"{n} repetitions per item, each with its own in-context examples, "
            "averaged")


def _what_ran(r: DatasetResult) -> list[str]:
    """Per model, what its rows record as having answered (model_version) and how often."""
    lines = []
    for model in r.models:
        versions = sorted(r.load.versions.get(model, set()))
        ran = (f"`{model}` ran as " + ", ".join(f"`{v}`" for v in versions)
               + " (the rows' `model_version`)" if versions and versions != [model]
               else f"`{model}` ran")
        lines.append(f"- What ran: {ran}; {_reps_text(r.load.reps.get(model, set()))}.")
    return lines


def _repetitions_phrase(results: Sequence[DatasetResult]) -> str:
    """How the distributions were read, true to the rows' repetitions."""
    reps = {n for r in results for found in r.load.reps.values() for n in found}
    if reps == {1}:
        return ("from one repetition per item (one draw of in-context examples, nothing "
                "averaged)")
    if reps and 1 in reps:
        return ("averaged over each item's repetitions with different in-context examples "
                "where a run had more than one (see What ran)")
    return "averaged over repetitions with different in-context examples"


def _notice_lines(notice: str | None) -> list[str]:
    return [f"> **{notice}**", ""] if notice else []


def dataset_section(r: DatasetResult, s: Settings, out_dir: Path) -> list[str]:
    title = DATASET_TITLES.get(r.dataset, r.dataset)
    load = r.load
    read = (f"{len(r.table)} rows ({r.table['item_id'].nunique()} items, "
            f"{len(r.models)} models: {', '.join(r.models)}) from {len(load.files)} file(s)")
    if load.skipped_no_probs:
        read += f"; {load.skipped_no_probs} rows without usable probabilities left out"
    if load.replaced_duplicates:
        read += f"; {load.replaced_duplicates} repeated rows (the later one kept)"
    lines = [f"## {title}", "", f"Read {read}.", "", *_what_ran(r), ""]
    lines += [f"- {note}" for note in r.notes]
    if r.notes:
        lines.append("")
    for section in (_distance_section, _entropy_section, _humans_section, _pairs_section):
        lines += section(r, s)
    lines += _figures_section(r, out_dir)
    if r.steer is not None:
        lines += steer_section(r.steer, s, out_dir)
    return lines


def render_report(results: Sequence[DatasetResult], settings: Settings, out_dir: Path,
                  sections: Sequence[str] = (), notice: str | None = None) -> str:
    """The whole report as Markdown text; `sections`: further lines (e.g. Overton's) placed
    after the datasets; `notice` (a demonstration) heads it."""
    out_dir = Path(out_dir)
    lines = ["# Model and human answer distributions", "", *_notice_lines(notice),
             "How close are language models' answer distributions on multiple-choice survey items "
             "to the distributions of people's answers, and does alignment (instruction tuning, "
             "RLHF) move them away, as 'A Roadmap to Pluralistic Alignment' (Sorensen et al., "
             "2024) reported? Each model's distribution is read from its next-token probabilities "
             f"over the option letters, {_repetitions_phrase(results)}.", ""]
    for r in results:
        lines += dataset_section(r, settings, out_dir)
    lines += list(sections)
    lines += ["## Reference: the study's numbers (orientation only)", "",
              *_table(["Llama-2-13B on GlobalOpinionQA", "pretrained", "chat (aligned)"],
                      [list(row) for row in STUDY_REFERENCE]), "",
              f"Human entropy in the same notebook: {STUDY_HUMAN_ENTROPY}. These numbers are "
               "quoted from the study's notebook, not computed here, and are a scale to read "
               "ours against, not a target. They differ from ours because "
               + "; ".join(STUDY_DIFFERENCES) + ". The study's hard-coded letter token ids were "
               "right for Llama-2's tokenizer, so they are not a reason for its Llama-2 numbers "
               "to differ (they are for any other model). Details: docs/differences.md.", "",
               *_files_section(results), ""]
    return "\n".join(lines)


def written_tables(r: DatasetResult) -> list[str]:
    """The CSV files `write_outputs` wrote for a dataset (pairs only when compared)."""
    names = [f"{r.dataset}_items.csv", f"{r.dataset}_models.csv", f"{r.dataset}_humans.csv"]
    return names + ([f"{r.dataset}_pairs.csv"] if not r.pairs.empty else [])


def _files_section(results: Sequence[DatasetResult]) -> list[str]:
    tables = ", ".join(f"`{name}`" for r in results for name in written_tables(r))
    if any(r.steer is not None for r in results):
        tables += (", `steerability.csv` (per model, dataset and steering target), "
                   "`steerability_items.csv`, and `steerability_pairs.csv` with --pair")
    n_figures = sum(p.suffix == ".png" for r in results for p in r.figures)
    return ["## Files", "",
            f"Tables beside this report: {tables} (`_items`: per item and model, `_models`: per "
            "model, `_humans`: human groups, `_pairs`: pretrained vs aligned). "
            f"{n_figures} figure(s) under `figures/`, each as PNG and SVG; `report.html` holds "
            "the figures, sortable tables and every item's distributions in one file."]


def write_report(results: Sequence[DatasetResult], settings: Settings, out_dir: Path,
                 sections: Sequence[str] = (), html_sections: Sequence[str] = (),
                 notice: str | None = None) -> Path:
    """Write report.md and report.html into out_dir; returns report.md's path. `sections`
    and `html_sections`: further parts of each (e.g. Overton's); `notice` (a demonstration)
    heads both."""
    path = Path(out_dir) / "report.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(results, settings, out_dir, sections, notice),
                    encoding="utf-8")
    write_html(results, out_dir, html_sections, notice)
    return path
