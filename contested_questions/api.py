"""Run a generation, an annotation or a distribution collection from Python; load any results.

Each run function takes its command's flags as keyword arguments (`max_tokens=200` is
`--max-tokens 200`, `dry_run=True` is `--dry-run`, a list is joined with commas) and runs that
command's own main() (commands/), so a notebook and the command line give the same rows,
resume the same way and refuse the same mistakes (a UserError with one line saying what to
fix).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotations.run import default_out as annotations_out
from annotations.run import load_generations
from backends.registry import get_spec, load_registry
from commands.collect import DEFAULT_BACKEND, DISTRIBUTIONS_DIR
from core.errors import UserError
from harness.export import rows_to_frame
from harness.results import read_jsonl
from neutrality.generate import default_out as generations_out

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


def _run(main: Callable[[list[str]], int | None], argv: list[str], command: str) -> int:
    try:
        return main(argv) or 0
    except SystemExit as exc:  # argparse refused an option and printed why
        if exc.code in (0, None):
            return 0
        raise UserError(f"{command}: an option was refused (see the message above); "
                        f"`contested {command} --help` lists them") from None


def _spec_name(backend: str, registry: Any) -> str:
    return get_spec(backend, load_registry(registry)).name


def generate(backend: str = DEFAULT_BACKEND, **options: Any) -> Run:
    """Collect `backend`'s answers to the test set, as `contested generate` (resumes)."""
    from commands import generate as script

    out = Path(options.pop("out", None) or generations_out(
        _spec_name(backend, options.get("registry")), options.get("model")))
    argv = ["--backend", backend, "--out", str(out), *flags(options)]
    return Run(out, _run(script.main, argv, "generate"))


def annotate(judge: str, generations: str | Path, **options: Any) -> Run:
    """Label each response in `generations` with `judge`, as `contested annotate` (resumes)."""
    from commands import annotate as script

    generations = Path(generations)
    out = Path(options.pop("out", None) or annotations_out(
        load_generations(generations), generations, _spec_name(judge, options.get("registry"))))
    argv = ["--judge", judge, "--generations", str(generations), "--out", str(out),
            *flags(options)]
    return Run(out, _run(script.main, argv, "annotate"))


def collect(dataset: str, backend: str = DEFAULT_BACKEND, **options: Any) -> Run:
    """A model's answer distributions over "mpi" or "globalqa" items, as `contested collect-*`."""
    if dataset not in DATASETS:
        raise UserError(f"unknown dataset {dataset!r}; collect takes 'mpi' or 'globalqa'")
    from commands import create_model_response_globalqa, create_model_response_mpi

    script = create_model_response_mpi if dataset == "mpi" else create_model_response_globalqa
    save_dir = Path(options.pop("save_dir", None) or DISTRIBUTIONS_DIR / dataset)
    # model= is the study's --model: the label naming the file (model_name= loads)
    label = options.get("model") or _spec_name(backend, options.get("registry"))
    out = save_dir / f"{label}.jsonl"
    argv = ["--backend", backend, "--save_dir", str(save_dir), *flags(options)]
    return Run(out, _run(script.main, argv, f"collect-{dataset}"))


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
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix == ".parquet":
        return pd.read_parquet(path)
    raise UserError(f"cannot read {path}: load_results takes .jsonl, .csv or .parquet files")
