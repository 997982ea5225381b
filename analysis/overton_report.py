"""The Overton section of the distributions report: coverage rows in, `overton.csv`, the
figure, Markdown lines and report.html's part (every item's window, the options each answer
covered, and the answer's text) out. Self-contained, so analyze_distributions.py only calls
`analyze_overton`, `overton_markdown` and `overton_html`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.figure_style import (
    figure_notice,
    figure_stem,
    new_figure,
    save_figure,
    series_colours,
    styled,
)
from analysis.html_page import Browser, Column, figure, heading, paragraph, sortable_table
from analysis.model_names import model_name, name_lookup
from analysis.overton import answer_scores, overton_pair, overton_table
from core.errors import UserError
from harness.results import read_jsonl
from pluralism.overton_window import windows

ITEM_COLUMNS = (Column("model", "model"), Column("country", "window of"),
                Column("item", "item"), Column("question", "question", "long"),
                Column("window", "window (share of people)", "long"),
                Column("covered", "options the answer presents", "long"),
                Column("score", "score"), Column("response", "answer", "long"))


@dataclass
class OvertonResult:
    scores: pd.DataFrame  # per answer and country (analysis.overton.answer_scores)
    table: pd.DataFrame  # per model and country (overton.csv)
    pairs: pd.DataFrame
    rows: list[dict[str, Any]]
    threshold: float
    files: int
    notes: list[str] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    #: every name a --pair may use (model id, version, registry name) -> the tables' name
    names: dict[str, str] = field(default_factory=dict)


def load_coverage(paths: Sequence[Path]) -> tuple[list[dict[str, Any]], list[str],
                                                   dict[str, str]]:
    """Coverage rows of every file, each named once (analysis.model_names): its registry
    name, or its model id where one name served two models; a model judged by several
    judges is named 'model [judge]' so its rows stay apart. Also every name a --pair may use
    for each (model id, version, registry name) -> that name."""
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for path in paths:
        if not Path(path).is_file():
            raise UserError(f"--overton: {path} does not exist; pass files written by "
                            "annotate_overton.py")
        for n, row in enumerate(read_jsonl(path), start=1):
            if not isinstance(row, dict) or not {"item_id", "covered", "human"} <= set(row):
                raise UserError(f"--overton: {path} line {n} is not a coverage row (needs "
                                "item_id, covered and human); pass annotate_overton.py output")
            rows[(model_name(row), row.get("model_id"), row.get("judge"), row["item_id"],
                  row.get("sample", 0))] = row
    # one name, one model: a name shared by two model ids gives way to the model ids
    ids: dict[str, set[Any]] = {}
    for name, model_id, *_ in rows:
        ids.setdefault(name, set()).add(model_id)
    base = {k: str(k[1]) if len(ids[k[0]]) > 1 and k[1] else k[0] for k in rows}
    judges: dict[str, set[Any]] = {}
    for k in rows:
        judges.setdefault(base[k], set()).add(k[2])
    out: list[dict[str, Any]] = []
    aliases: dict[str, set[Any]] = {}
    for k, row in rows.items():
        name = f"{base[k]} [{k[2]}]" if len(judges[base[k]]) > 1 else base[k]
        out.append({**row, "model": name, "model_id": row.get("model_id") or k[0]})
        aliases.setdefault(name, set()).update((k[0], row.get("model_id"),
                                                row.get("model_version")))
    notes = [f"{model} was judged by {', '.join(sorted(map(str, js)))}; each judge's rows "
             "are a model of their own here." for model, js in judges.items() if len(js) > 1]
    return out, notes, name_lookup(aliases.items())


def analyze_overton(paths: Sequence[Path], pairs: Sequence[tuple[str, str]],
                    threshold: float, countries: Sequence[str] | None, n_boot: int,
                    seed: int) -> OvertonResult:
    """`pairs`: (pre, post) by the names the tables use (`OvertonResult.names` maps any
    other name of a model to it)."""
    rows, notes, names = load_coverage(paths)
    scores = answer_scores(rows, countries, threshold)
    table = overton_table(scores, n_boot=n_boot, seed=seed)
    present = set(table["model"])
    compared = []
    for pre, post in pairs:
        if pre in present and post in present:
            compared.append(overton_pair(scores, pre, post, n_boot=n_boot, seed=seed))
    pair_table = pd.concat(compared, ignore_index=True) if compared else pd.DataFrame()
    if any(r.get("judge_demo_only") for r in rows):
        notes.append("A demonstration judge labelled some rows: those scores measure nothing.")
    return OvertonResult(scores, table, pair_table, rows, threshold, len(paths), notes,
                         names=names)


@styled
def overton_figure(table: pd.DataFrame) -> Any:
    """OvertonScore per model (points, 95 % intervals), one row per country."""
    models = list(dict.fromkeys(table["model"]))
    countries = list(dict.fromkeys(table["country"]))
    fig = new_figure(max(1.6, 0.22 * len(models) * len(countries) + 1.0))
    ax = fig.add_subplot()
    colours = series_colours(models)
    labels, y = [], 0
    for country in countries:
        for model in models:
            hit = table[(table["model"] == model) & (table["country"] == country)]
            if not hit.empty and math.isfinite(hit.iloc[0]["overton_score"]):
                r = hit.iloc[0]
                has_ci = math.isfinite(r["ci_low"]) and math.isfinite(r["ci_high"])
                xerr = ([[r["overton_score"] - r["ci_low"]], [r["ci_high"] - r["overton_score"]]]
                        if has_ci else None)  # too few items: the point alone
                ax.errorbar(r["overton_score"], y, xerr=xerr,
                            fmt="o", color=colours[model], capsize=2,
                            label=model if country == countries[0] else None)
            labels.append(f"{country}: {model}")
            y += 1
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("OvertonScore: share of the options people hold that the answer presents")
    fig.suptitle("Overton pluralism: mean over items, bars 95 % intervals")
    return fig


def write_overton(result: OvertonResult, out_dir: Path, notice: str | None = None) -> None:
    """The Overton CSVs and figure; `notice` (a demonstration) goes into every CSV as a
    column and into the figure as a caption, as for the distribution tables."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def csv(table: pd.DataFrame, name: str) -> None:
        (table.assign(notice=notice) if notice else table).to_csv(out_dir / name, index=False)

    csv(result.table, "overton.csv")
    csv(result.scores.drop(columns=["covered"]), "overton_items.csv")
    if not result.pairs.empty:
        csv(result.pairs, "overton_pairs.csv")
    with figure_notice(notice):
        result.figures = save_figure(overton_figure(result.table),
                                     figure_stem(out_dir, "overton_summary"))


def _ci(mean: float, low: float, high: float) -> str:
    if not math.isfinite(mean):
        return "–"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{mean:.3f} (no CI)"  # too few items (overton.csv's ci_note says why)
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def overton_markdown(result: OvertonResult, out_dir: Path) -> list[str]:
    t = result.table
    rows = [[r["model"], r["country"], r["n_items"],
             _ci(r["overton_score"], r["ci_low"], r["ci_high"]),
             _ci(r["weighted_score"], r["weighted_ci_low"], r["weighted_ci_high"]),
             "–" if not math.isfinite(r["outside_share"]) else
             f"{r['outside_share']:.3f} ({r['n_outside']})",
             r["n_single_option"], r["n_refused"], r["n_empty"], r["n_blocked"],
             r["n_unreadable"],
             r["n_failed"]]
            for _, r in t.iterrows()]
    lines = ["## Overton pluralism: does a free answer present the views people hold?", "",
             f"Read {len(result.rows)} judged answers from {result.files} file(s).", ""]
    lines += [f"- {note}" for note in result.notes] + ([""] if result.notes else [])
    lines += _table(["model", "window of", "items", "OvertonScore [95 % CI]",
                     "weighted by people [95 % CI]", "presents an option outside (answers)",
                     "one-option windows", "refused", "empty", "blocked", "unreadable",
                     "failed (answer or judge call)"], rows)
    pct = f"{100 * result.threshold:.0f} %"
    lines += ["", "Each question was asked without its options; a judge decided, option by "
              "option, whether the answer presents that view as one a reasonable person could "
              f"hold. A country's window holds the options at least {pct} of its respondents "
              "chose (pooled: each option's mean share over the countries). OvertonScore is "
              "the share of the window an answer presents, averaged over items (Poole-Dayan "
              "et al.); the weighted score weights each window option by its share of people; "
              "intervals are percentile bootstraps over items. Items whose window has one "
              "option are left out and counted, as are answers that refused, were empty (no "
              "text: not counted as refusals), were blocked, "
              "could not be read, or whose answer or judge call failed (a failure, not an "
              "unreadable answer: a rerun redoes it). 'Presents an option outside' is the share "
              "of answers, among items with options outside the window, that present at least "
              "one of them.", ""]
    if not result.pairs.empty:
        prow = [[f"{r['pre']} → {r['post']}", r["country"], r["n_items"],
                 f"{r['score_pre']:.3f}", f"{r['score_post']:.3f}",
                 _ci(r["difference"], r["ci_low"], r["ci_high"])]
                for _, r in result.pairs.iterrows()]
        lines += ["### Pretrained vs aligned", "",
                  *_table(["pair", "window of", "items", "before", "after",
                           "difference [95 % CI]"], prow), "",
                  "On the items both scored: after minus before, paired bootstrap over items.",
                  ""]
    for p in result.figures:
        if p.suffix == ".png":
            rel = p.relative_to(out_dir) if p.is_relative_to(out_dir) else p
            lines += [f"![{p.stem}]({rel.as_posix()})", "",
                      "_OvertonScore per model and country, 95 % bootstrap intervals._", ""]
    lines += ["Tables: `overton.csv` (per model and country), `overton_items.csv` (per answer "
              "and country)" + (", `overton_pairs.csv`" if not result.pairs.empty else "")
              + ".", ""]
    return lines


def item_rows(result: OvertonResult) -> list[dict[str, Any]]:
    """One browser row per (answer, country): window with shares, options presented, text."""
    by_key = {(r["model"], r["item_id"], r.get("sample", 0)): r for r in result.rows}
    out = []
    for _, s in result.scores.iterrows():
        row = by_key[(s["model"], s["item_id"], s["sample"])]
        options = list(row.get("options") or [])
        human = row.get("human") or {}
        shares = {g: human.get(g) for g in human}
        win = windows(human, None, result.threshold).get(s["country"], ())
        share = shares.get(s["country"])
        window_text = "; ".join(
            options[i] + (f" ({100 * share[i]:.0f} %)" if share else "") for i in win)
        covered = row.get("covered") or []
        presented = [o + ("" if i in win else " (outside)")
                     for i, o in enumerate(options) if i < len(covered) and covered[i]]
        unread = [o for i, o in enumerate(options) if i < len(covered) and covered[i] is None]
        text = ", ".join(presented) or "none"
        if unread:
            how = "failed" if row.get("status") == "error" else "unreadable"
            text += f"; {how}: {', '.join(unread)}"
        score = s["score"]
        out.append({"model": s["model"], "country": s["country"], "item": int(s["item_id"]),
                    "question": row.get("question") or "", "window": window_text,
                    "covered": text, "response": row.get("response") or "",
                    "score": f"{score:.2f}" if math.isfinite(score) else
                    f"left out ({s['left_out']})"})
    return out


def overton_html(result: OvertonResult) -> list[str]:
    title = "Overton pluralism"
    body = [heading(title), paragraph(
        f"{len(result.rows)} judged answers; window threshold {result.threshold:g}.")]
    body += [paragraph(n, "note") for n in result.notes]
    body += [figure(p, "OvertonScore per model and country, 95 % bootstrap intervals.")
             for p in result.figures if p.suffix == ".png"]
    body += [heading(f"{title}: per model and country", 3), sortable_table(result.table)]
    if not result.pairs.empty:
        body += [heading(f"{title}: pretrained vs aligned", 3), sortable_table(result.pairs)]
    body += [heading(f"{title}: every answer", 3),
             Browser(ITEM_COLUMNS, item_rows(result),
                     filters=[("model", "model"), ("country", "window of")]).html()]
    return body
