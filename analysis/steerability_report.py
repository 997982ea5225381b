"""The steerable-pluralism part of the distribution report: its CSV tables (steerability.csv,
steerability_items.csv, steerability_pairs.csv), figures, a Markdown section per dataset and
its report.html body. Self-contained: the distribution report calls `steer_section` and
`steer_html` for a dataset that has steered rows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis.figure_style import figure_notice
from analysis.html_page import figure, heading, paragraph, sortable_table
from analysis.steerability import SteerResult
from analysis.steerability_figures import plot_dumbbells, plot_steer_item

#: per-item figures: this many items, for this many models (pair order first)
ITEMS_DRAWN = 2
MODELS_DRAWN = 2


def _num(x: float) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.3f}"


def _ci(mean: float, low: float, high: float) -> str:
    if not math.isfinite(mean):
        return "–"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{mean:+.3f} (no CI)"  # too few items: the CSV's ci_note says why
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return lines


def ordered_models(r: SteerResult, pairs: Sequence[tuple[str, str]]) -> list[str]:
    present = list(dict.fromkeys(r.summary["model"]))
    paired = [m for pair in pairs for m in pair if m in present]
    return list(dict.fromkeys([*paired, *present]))


def draw_figures(r: SteerResult, out_dir: Path, pairs: Sequence[tuple[str, str]],
                 items: Sequence[int] | None, title: str) -> None:
    """The dumbbells (with people) and the per-item bars; what is left out goes in notes."""
    models = ordered_models(r, pairs)
    figures: list[Path] = []
    if r.has_humans:
        figures += plot_dumbbells(r.summary, models, title, out_dir, r.dataset)
    present = sorted(set(r.items["item_id"]))
    chosen = list(items) if items is not None else present[:ITEMS_DRAWN]
    drawn = models[:MODELS_DRAWN]
    for item_id in chosen:
        for model in drawn:
            if ((r.items["item_id"] == item_id) & (r.items["model"] == model)).any():
                figures += plot_steer_item(r.items, item_id, model, out_dir, r.dataset)
    left = [m for m in models if m not in drawn]
    if left:
        r.notes.append(f"Per-item steering bars are drawn for {', '.join(drawn)} only; "
                       f"{', '.join(left)} are in steerability_items.csv.")
    if len(present) > len(chosen):
        r.notes.append(f"Per-item steering bars are drawn for {len(chosen)} of {len(present)} "
                       "steered items (--items picks others).")
    r.figures = figures


def write_steer_outputs(results: Sequence[SteerResult], out_dir: Path,
                        pairs: Sequence[tuple[str, str]], items: Sequence[int] | None,
                        titles: dict[str, str], notice: str | None = None) -> list[str]:
    """Write the CSV tables and figures; returns the names of the tables written. `notice` (a
    demonstration) goes into every CSV as a column and every figure as a caption."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frames in (("steerability.csv", [r.summary for r in results]),
                         ("steerability_items.csv", [r.items for r in results]),
                         ("steerability_pairs.csv", [r.pairs for r in results])):
        frames = [f for f in frames if not f.empty]
        if frames:
            table = pd.concat(frames, ignore_index=True)
            (table.assign(notice=notice) if notice else table).to_csv(out_dir / name,
                                                                      index=False)
            written.append(name)
    with figure_notice(notice):
        for r in results:
            draw_figures(r, out_dir, pairs, items, titles.get(r.dataset, r.dataset))
    return written


def caption(path: Path, r: SteerResult) -> str:
    if path.stem.endswith("_steerability"):
        return ("Per model and target, mean over items of the Jensen-Shannon distance to the "
                "target's people: unsteered (hollow), steered (filled), the arrow from one to "
                "the other (leftward: steering brought the model closer); crosses: the steered "
                "distribution's mean distance to the other targets' people. Intervals of the "
                "gain are in the table above.")
    if not r.has_humans:  # the caption describes what is drawn (issue 26)
        return ("One item, one model: the unsteered distribution (sand), then for each target "
                "the model's distribution when steered to it. No human distributions were "
                "given, so no people's bars are drawn.")
    return ("One item, one model: the unsteered distribution (sand), then for each target its "
            "people's answer shares (greys) and the model's distribution when steered to it.")


def steer_section(r: SteerResult, settings, out_dir: Path) -> list[str]:
    """The Markdown section of one dataset's steerability."""
    lines = ["### Steerable pluralism: can the model be steered to a country or group?", "",
             f"Targets: {', '.join(r.targets)}. Each item was also asked with a steering "
             "sentence before the prompt (the rows' `steer_text`), naming the target.", ""]
    lines += [f"- {note}" for note in r.notes]
    if r.notes:
        lines.append("")
    if r.has_humans:
        rows = [[row["model"], row["target"], str(row["n_items"]), _num(row["js_unsteered"]),
                 _num(row["js_steered"]), _ci(row["gain"], row["ci_low"], row["ci_high"]),
                 _num(row["js_steered_others"]), _num(row["js_steered_shuffled"]),
                 _num(row["js_shift"])] for _, row in r.summary.iterrows()]
        lines += [*_table(["model", "target", "items", "unsteered", "steered",
                           "gain [95 % CI]", "steered, to the others", "steered, shuffled",
                           "moved"], rows), "",
                  "Mean over items of the Jensen-Shannon distance (base 2) to the target's "
                  "people of the unsteered and the steered distribution; the gain is unsteered "
                  "minus steered (positive: steering brought the model closer), with a "
                  f"percentile bootstrap over items ({settings.n_boot} resamples, seed "
                  f"{settings.seed}). 'Steered, to the others': the steered distribution's "
                  "mean distance to the other targets' people (it should be larger than "
                  "'steered'); 'shuffled': the steered distribution with its options permuted "
                  f"({settings.shuffles} seeded permutations per item); 'moved': the distance "
                  "between the unsteered and the steered distribution.", ""]
    else:
        rows = [[row["model"], row["target"], str(row["n_shift_items"]), _num(row["js_shift"])]
                for _, row in r.summary.iterrows()]
        lines += [*_table(["model", "target", "items", "moved"], rows), "",
                  "No distance to people is shown: there are no human distributions for these "
                  "targets (for MPI, pass --mpi-human with a respondent file that has the "
                  "groups' columns). 'Moved' is the mean Jensen-Shannon distance (base 2) "
                  "between the unsteered and the steered distribution.", ""]
    if not r.pairs.empty:
        rows = [[row["target"], f"{row['pretrained']} → {row['aligned']}", str(row["n_items"]),
                 _num(row["gain_pretrained"]), _num(row["gain_aligned"]),
                 _ci(row["diff"], row["diff_ci_low"], row["diff_ci_high"])]
                for _, row in r.pairs.iterrows()]
        lines += ["Pretrained vs aligned:", "",
                  *_table(["target", "pretrained → aligned", "items", "gain, pretrained",
                           "gain, aligned", "difference [95 % CI]"], rows), "",
                  "On the items both models were steered on: aligned minus pretrained gain, "
                  "with a paired percentile bootstrap over items.", ""]
    for p in [p for p in r.figures if p.suffix == ".png"]:
        rel = p.relative_to(out_dir) if p.is_relative_to(out_dir) else p
        lines += [f"![{p.stem}]({rel.as_posix()})", "", f"_{caption(p, r)}_", ""]
    return lines


def steer_html(r: SteerResult, title: str) -> list[str]:
    """The report.html body of one dataset's steerability."""
    body = [heading(f"{title}: steerable pluralism", 3),
            paragraph(f"Targets: {', '.join(r.targets)}.")]
    body += [paragraph(note, "note") for note in r.notes]
    if not r.has_humans:
        body.append(paragraph("No distance to people is shown: no human distributions for "
                              "these targets.", "note"))
    body += [figure(p, caption(p, r)) for p in r.figures if p.suffix == ".png"]
    body.append(sortable_table(r.summary))
    if not r.pairs.empty:
        body.append(sortable_table(r.pairs))
    return body
