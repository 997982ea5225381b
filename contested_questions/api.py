"""Run a generation, an annotation, a distribution collection or the Overton stage from Python;
load any results.

Each run function takes its command's flags as keyword arguments (`max_tokens=200` is
`--max-tokens 200`, `dry_run=True` is `--dry-run`, a list is joined with commas) and runs that
command's own main() (commands/), so a notebook and the command line give the same rows,
resume the same way and refuse the same mistakes (a UserError with one line saying what to
fix).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotations.coverage_run import default_out as coverage_out
from annotations.coverage_run import load_responses
from annotations.run import default_out as annotations_out
from annotations.run import load_generations
from backends.registry import get_spec, load_registry
from commands.collect import DEFAULT_BACKEND, DISTRIBUTIONS_DIR, backend_for, build_parser
from core.errors import UserError
from harness.export import restore_formula_text, rows_to_frame
from harness.results import read_jsonl
from neutrality.generate import default_out as generations_out
from pluralism.collect_plan import CollectOptions
from pluralism.overton import default_out as overton_out

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

DATASETS = ("mpi", "globalqa")


@dataclass(frozen=True)
class Run:
    """Where a run's rows are and its exit status (0: every row done, as on the command line)."""

    out: Path
    status: int

    @property
    def complete(self) -> bool:
        return self.status == 0

    def load(self) -> pd.DataFrame:
        return load_results(self.out)


def flags(options: dict[str, Any]) -> list[str]:
    """Keyword arguments -> command-line flags; None and False leave a flag out."""
    argv: list[str] = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif isinstance(value, list | tuple):
            argv += [flag, ",".join(map(str, value))]
        else:
            argv += [flag, str(value)]
    return argv


def _run(main: Callable[[list[str]], Any], argv: list[str], command: str) -> Any:
    try:
        return main(argv) or 0
    except SystemExit as exc:  # argparse refused an option and printed why
        if exc.code in (0, None):
            return 0
        raise UserError(f"{command}: an option was refused (see the message above); "
                        f"`contested {command} --help` lists them") from None


def _parsed(parse: Callable[[list[str]], argparse.Namespace], argv: list[str],
            command: str) -> argparse.Namespace:
    """The flags as the command's own parser reads them, so every spelling of an option
    (`out_dir`, `save_dir`, `save-dir`) gives the file the command will write."""
    args = _run(parse, argv, command)
    if not isinstance(args, argparse.Namespace):  # --help printed, nothing to run
        raise UserError(f"{command}: nothing to run (--help was asked for)")
    return args


def _spec_name(backend: str, registry: Any) -> str:
    return get_spec(backend, load_registry(registry)).name


def generate(backend: str = DEFAULT_BACKEND, **options: Any) -> Run:
    """Collect `backend`'s answers to the test set, as `contested generate` (resumes)."""
    from commands import generate as script

    argv = ["--backend", backend, *flags(options)]
    args = _parsed(script.parse_args, argv, "generate")
    out = Path(args.out or generations_out(_spec_name(args.backend, args.registry), args.model))
    return Run(out, _run(script.main, [*argv, "--out", str(out)], "generate"))


def annotate(judge: str, generations: str | Path, **options: Any) -> Run:
    """Label each response in `generations` with `judge`, as `contested annotate` (resumes)."""
    from commands import annotate as script

    argv = ["--judge", judge, "--generations", str(generations), *flags(options)]
    args = _parsed(script.parse_args, argv, "annotate")
    out = Path(args.out or annotations_out(load_generations(args.generations), args.generations,
                                           _spec_name(args.judge, args.registry)))
    return Run(out, _run(script.main, [*argv, "--out", str(out)], "annotate"))


def collect(dataset: str, backend: str | None = None, **options: Any) -> Run:
    """A model's answer distributions over "mpi" or "globalqa" items, as `contested collect-*`.

    `backend` None leaves --backend out, as on the command line: the embedded SmolLM2, or
    with `model_name=` the model the study's --model-name names (a hub id, a local folder or
    a registry API model); `model=` is the study's label naming the output."""
    if dataset not in DATASETS:
        raise UserError(f"unknown dataset {dataset!r}; collect takes 'mpi' or 'globalqa'")
    from commands import create_model_response_globalqa, create_model_response_mpi

    script = create_model_response_mpi if dataset == "mpi" else create_model_response_globalqa
    command = f"collect-{dataset}"
    argv = [*(["--backend", backend] if backend is not None else []), *flags(options)]
    args = _parsed(build_parser(dataset, script.__doc__ or "").parse_args, argv, command)
    save_dir = Path(args.save_dir or DISTRIBUTIONS_DIR / dataset)
    spec, _ = backend_for(args)
    # the output's name as the command gives it (its label, where the command has one)
    named = {k: getattr(args, k) for k in ("label",)
             if k in CollectOptions.__dataclass_fields__ and hasattr(args, k)}
    out = CollectOptions(dataset=dataset, spec=spec, save_dir=save_dir, **named).out_path
    return Run(out, _run(script.main, [*argv, "--out-dir", str(save_dir)], command))


def overton_responses(backend: str = DEFAULT_BACKEND, **options: Any) -> Run:
    """`backend`'s open answers to the GlobalOpinionQA questions, asked without their
    options, as `contested overton-responses` (resumes)."""
    from commands import create_overton_responses as script

    argv = ["--backend", backend, *flags(options)]
    args = _parsed(script.parse_args, argv, "overton-responses")
    out = Path(args.out or overton_out(_spec_name(args.backend, args.registry), args.model))
    return Run(out, _run(script.main, [*argv, "--out", str(out)], "overton-responses"))


def annotate_overton(judge: str, responses: str | Path, **options: Any) -> Run:
    """Which answer options each open answer in `responses` presents, judged by `judge`, as
    `contested annotate-overton` (resumes); `out` is the file of one row per answer."""
    from commands import annotate_overton as script

    argv = ["--judge", judge, "--responses", str(responses), *flags(options)]
    args = _parsed(script.build_parser().parse_args, argv, "annotate-overton")
    out = args.out
    if out is None:  # the command's own default, from the answers it judges
        rows = sorted(load_responses(args.responses),
                      key=lambda r: (r["item_id"], r.get("sample", 0)))
        out = coverage_out(rows[:args.limit] if args.limit else rows, args.responses,
                           _spec_name(args.judge, args.registry), args.judge_mode)
    out = Path(out)
    return Run(out, _run(script.main, [*argv, "--out", str(out)], "annotate-overton"))


def load_results(path: str | Path) -> pd.DataFrame:
    """Any results file (.jsonl as written by a run, or its .csv / .parquet export) as a table.

    The columns are those of `contested export`: a dict field becomes `field.key` columns and
    deeper values stay JSON text, so a file and its exports load the same.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise UserError(f"no results file at {path}: check the path, or run the stage that "
                        "writes it")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return rows_to_frame(list(read_jsonl(path)))
    if suffix == ".csv":  # text that export quoted against spreadsheet formulas, restored
        frame = pd.read_csv(path)
        text = frame.select_dtypes(include="object").columns
        frame[text] = frame[text].map(restore_formula_text)
        return frame
    if suffix == ".parquet":
        return pd.read_parquet(path)
    raise UserError(f"cannot read {path}: load_results takes .jsonl, .csv or .parquet files")
