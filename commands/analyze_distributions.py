"""Compare models' answer distributions with human ones (GlobalOpinionQA, MPI) and report.

Writes per-item and per-model CSV tables, figures (PNG and SVG) and a Markdown report.

    python scripts/analyze_distributions.py \\
        --globalqa results/distributions/globalqa/*.jsonl \\
        --mpi results/distributions/mpi/*.jsonl \\
        --mpi-human Data/pluralism/ipip_neo_120_responses.csv \\
        --pair llama-2-13b:llama-2-13b-chat --out-dir reports/distributions/
"""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis.distribution_inputs import (
    MPI_HUMAN_GROUP,
    attach_mpi_human,
    load_distribution_files,
    model_names,
    resolve_pair,
    split_steered,
)
from analysis.distribution_report import write_report
from analysis.distribution_run import DATASET_TITLES, Settings, analyze_dataset, write_outputs
from analysis.distributions import ItemDistribution, groups_of
from analysis.overton_report import (
    OvertonResult,
    analyze_overton,
    overton_html,
    overton_markdown,
    write_overton,
)
from analysis.steerability import analyze_steering, human_from_rows
from analysis.steerability_report import write_steer_outputs
from backends.registry import load_registry
from core.errors import UserError
from core.paths import DATA_DIR
from harness.cli import script_parser
from pluralism.groups import parse_group
from pluralism.human_groups import human_group_distributions
from pluralism.human_mpi import human_mpi_distributions, keying_advice, read_mpi_keying
from pluralism.overton_window import DEFAULT_THRESHOLD, check_threshold


def parse_items(text: str) -> list[int]:
    try:
        return [int(x) for x in text.replace(",", " ").split()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--items takes item ids like 0,5,17: {text!r}") from exc


def split_pairs(specs: list[str], names: dict[str, str], overton: OvertonResult | None
                ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Each --pair resolved among the distribution rows' names and among the Overton rows'
    (a model's table name, registry name, model id or version); a pair may name models of
    either, and an unknown one is refused with the closest names."""
    overton_names = overton.names if overton is not None else {}
    pairs, overton_pairs = [], []
    for spec in specs:
        found = False
        for known, into in ((names, pairs), (overton_names, overton_pairs)):
            try:
                into.append(resolve_pair(spec, known))
                found = True
            except UserError:
                continue
        if not found:
            resolve_pair(spec, {**names, **overton_names})  # raises, naming the known models
    return pairs, overton_pairs


def build_parser() -> argparse.ArgumentParser:
    p = script_parser(__doc__)
    p.add_argument("--globalqa", nargs="+", type=Path, default=[], metavar="FILE",
                   help="GlobalOpinionQA rows (results/distributions/globalqa/*.jsonl)")
    p.add_argument("--mpi", nargs="+", type=Path, default=[], metavar="FILE",
                   help="MPI distribution rows (results/distributions/mpi/*.jsonl)")
    p.add_argument("--mpi-human", type=Path, default=None, metavar="FILE",
                   help="IPIP-NEO-120 responses: CSV whose last 120 columns are the items, 1-5, "
                        "0 = not answered; without it MPI gets model entropy only")
    p.add_argument("--mpi-items", type=Path, metavar="FILE",
                   default=DATA_DIR / "pluralism" / "mpi_questions.tsv",
                   help="mpi_questions.tsv (default: Data/pluralism/mpi_questions.tsv)")
    p.add_argument("--recode-minus-keyed", action=argparse.BooleanOptionalAction, default=True,
                   help="map 1<->5, 2<->4 on minus-keyed items (key = -1) of --mpi-human, as the "
                        "study did: right for a file of trait-scored values, wrong for a raw "
                        "export of the answers ticked (default: recode)")
    p.add_argument("--overton", nargs="+", type=Path, default=[], metavar="FILE",
                   help="Overton coverage rows (annotate_overton.py): writes overton.csv")
    p.add_argument("--window-threshold", type=float, default=DEFAULT_THRESHOLD,
                   help="share of a country's people that puts an option in its Overton window "
                        "(at it: in)")
    p.add_argument("--overton-countries", metavar="NAMES",
                   help="comma-separated countries for the Overton windows (default: every "
                        "country in the rows; pooled over them as well)")
    p.add_argument("--pair", action="append", default=[], metavar="PRETRAINED:ALIGNED",
                   help="compare two models (the rows' `model` or `backend` names); repeatable")
    p.add_argument("--shuffles", type=int, default=10,
                   help="seeded permutations per item for the shuffled baseline")
    p.add_argument("--seed", type=int, default=0, help="seed of permutations and bootstrap")
    p.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples")
    p.add_argument("--items", type=parse_items, default=None, metavar="IDS",
                   help="item ids to draw per-item bars for, e.g. 0,5,17 (default: first 3)")
    p.add_argument("--out-dir", "--out", dest="out_dir", type=Path,
                   default=Path("reports/distributions"),
                   help="report folder (--out: the old name, still accepted)")
    return p


def demonstration_notice(backends: set[str]) -> str | None:
    """The report's, tables' and figures' notice when a model the registry marks demo_only
    (too small to measure: the embedded SmolLM2) produced rows."""
    registry = load_registry()
    demo = sorted(b for b in backends if b in registry and registry[b].demo_only)
    if not demo:
        return None
    return (f"A demonstration, not a measurement: {', '.join(demo)} is a model too small to "
            "answer these items meaningfully; the numbers show that the pipeline runs end to "
            "end, not what a model believes.")
def mpi_group_humans(steered: list[ItemDistribution], args: argparse.Namespace
                     ) -> tuple[dict, list[str]]:
    """The steered MPI rows' groups' human distributions (by item) and a note on them."""
    targets = list(dict.fromkeys(i.steer_to for i in steered if i.steer_to))
    if not args.mpi_human:
        return {}, []
    keys, _ = read_mpi_keying(args.mpi_items)
    groups = human_group_distributions(args.mpi_human, [parse_group(t) for t in targets],
                                       keys, args.recode_minus_keyed)
    human = {g.name: dict(enumerate(g.probs)) for g in groups}
    sizes = ", ".join(f"{g.name}: {g.respondents}" for g in groups)
    return human, [f"Human group distributions from {args.mpi_human} (respondents: {sizes}), "
                   "counted and recoded as for everyone."]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.globalqa and not args.mpi and not args.overton:
        raise UserError("no distribution files given; pass --globalqa FILE..., --mpi FILE... "
                        "and/or --overton FILE...")
    check_threshold(args.window_threshold)
    if args.shuffles < 1:
        raise UserError("--shuffles must be at least 1")
    if args.mpi_human and not args.mpi:
        raise UserError("--mpi-human given without --mpi rows to compare it with")
    settings = Settings(shuffles=args.shuffles, seed=args.seed, n_boot=args.bootstrap)

    loaded = {}
    steered: dict[str, list[ItemDistribution]] = {}
    if args.globalqa:
        items, report = load_distribution_files(args.globalqa, "globalqa")
        items, steered["globalqa"] = split_steered(items)
        notes = [] if groups_of(items) else [
            "These rows carry no human distributions (`human` is empty): model entropy only."]
        loaded["globalqa"] = (items, report, notes)
    if args.mpi:
        items, report = load_distribution_files(args.mpi, "mpi")
        items, steered["mpi"] = split_steered(items)
        loaded["mpi"] = (items, report, [])
    # check the pairs before reading a large human file
    names = model_names([i for items, _, _ in loaded.values() for i in items])
    overton = None
    countries = ([c.strip() for c in args.overton_countries.split(",") if c.strip()]
                 if args.overton_countries else None)
    if args.overton:
        overton = analyze_overton(args.overton, [], args.window_threshold, countries,
                                  args.bootstrap, args.seed)
    pairs, overton_pairs = split_pairs(args.pair, names, overton)

    if args.mpi:
        items, report, notes = loaded["mpi"]
        if args.mpi_human:
            keys, facets = read_mpi_keying(args.mpi_items)
            human = human_mpi_distributions(args.mpi_human, keys, args.recode_minus_keyed,
                                            facets)
            items = attach_mpi_human(items, human)
            recode = ("minus-keyed items recoded 1<->5, 2<->4 as in the study"
                      if human.recoded_minus_keyed else "minus-keyed items taken as written")
            notes.append(f"Human distributions ({MPI_HUMAN_GROUP}): {human.respondents} "
                         f"respondents in {human.source}; {recode}; answers of 0 left out.")
            advice = keying_advice(human)
            if advice:
                notes.append(advice)
                if advice.startswith("WARNING"):
                    print(advice)
            unanswered = int((human.answered == 0).sum())
            if unanswered:
                notes.append(f"{unanswered} MPI items have no human answers; left out of the "
                             "human comparisons.")
        else:
            notes.append("No human response file given (--mpi-human): MPI shows model entropy "
                         "only, no distances to people.")
        loaded["mpi"] = (items, report, notes)

    answered = {i.backend for items, _, _ in loaded.values() for i in items}
    if overton is not None:  # the Overton models by every name, and their judges
        answered |= set(overton.names) | {str(r.get("judge")) for r in overton.rows}
    notice = demonstration_notice(answered)
    results = []
    for dataset, (items, report, notes) in loaded.items():
        if not items:
            raise UserError(f"the {dataset} files hold only steered rows; the comparison needs "
                            "the unsteered ones too (a steered run collects both)")
        result = analyze_dataset(dataset, items, report, pairs, settings, notes)
        if steered.get(dataset):
            human, steer_notes = (mpi_group_humans(steered[dataset], args) if dataset == "mpi"
                                  else (human_from_rows(steered[dataset]), []))
            result.steer = analyze_steering(
                dataset, items, steered[dataset], human, pairs, n_shuffles=settings.shuffles,
                seed=settings.seed, n_boot=settings.n_boot, notes=steer_notes)
        write_outputs(result, args.out_dir, pairs, args.items, notice)
        results.append(result)
        print(f"{dataset}: {len(result.table)} rows, {len(result.models)} models, "
              f"{len(result.pairs)} pair comparisons"
              + (f"; {len(result.steer.items)} steered rows" if result.steer else ""))
    steer = [r.steer for r in results if r.steer is not None]
    if steer:
        write_steer_outputs(steer, args.out_dir, pairs, args.items, DATASET_TITLES, notice)
    sections: list[str] = []
    html_sections: list[str] = []
    if overton is not None:
        overton = analyze_overton(args.overton, overton_pairs, args.window_threshold,
                                  countries, args.bootstrap, args.seed)
        write_overton(overton, args.out_dir, notice)
        sections, html_sections = overton_markdown(overton, args.out_dir), overton_html(overton)
        print(f"overton: {len(overton.table)} rows in overton.csv, "
              f"{len(overton.pairs)} pair comparisons")
    path = write_report(results, settings, args.out_dir, sections, html_sections, notice)
    print(f"report written to {path} and {path.with_suffix('.html')}")
    return 0

