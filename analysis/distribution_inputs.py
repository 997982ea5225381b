"""Read distribution rows (results/distributions/<dataset>/<model>.jsonl) into checked items.

Bad input (a missing file, a file with no usable rows, a row without probabilities, a model and
a human distribution of different lengths, a pair naming an unknown model) is a UserError
naming the file and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from analysis.distributions import ItemDistribution
from analysis.model_names import model_name, name_lookup, unknown_model
from core.errors import UserError
from harness.results import read_jsonl
from pluralism.human_mpi import HumanMPI

MPI_HUMAN_GROUP = "IPIP respondents"


@dataclass
class LoadReport:
    """What was read, and what was left out and why (for the report)."""

    files: list[str]
    rows: int = 0
    skipped_no_probs: int = 0
    replaced_duplicates: int = 0
    #: per model: the model_version(s) its rows record (what answered) and its repetitions
    versions: dict[str, set[str]] = field(default_factory=dict)
    reps: dict[str, set[int]] = field(default_factory=dict)


def _probs(value, where: str) -> np.ndarray | None:
    if value is None:
        return None
    try:
        p = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{where}: 'probs' is not a list of numbers") from exc
    if p.ndim != 1 or len(p) == 0 or not np.all(np.isfinite(p)) or p.sum() <= 0:
        return None
    if np.any(p < 0):
        raise UserError(f"{where}: 'probs' holds a negative probability")
    return p


def _human(value, n_options: int, where: str) -> dict[str, np.ndarray]:
    if not value:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"{where}: 'human' must map group names to distributions")
    out = {}
    for group, dist in value.items():
        h = np.asarray(dist, dtype=np.float64)
        if h.ndim != 1 or len(h) != n_options:
            raise UserError(
                f"{where}: the human distribution for {group!r} has {h.size} values but the "
                f"model's has {n_options}; the rows of this item do not match its options"
            )
        out[str(group)] = h
    return out


def _rows(path: Path):
    """(line number, row) pairs; a line that is not JSON is a UserError, not a traceback."""
    rows = read_jsonl(path)
    line = 0
    while True:
        line += 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except json.JSONDecodeError as exc:
            raise UserError(f"{path} row {line} is not valid JSON ({exc.msg}); "
                            "is it a distribution-rows file?") from exc
        if not isinstance(row, dict):
            raise UserError(f"{path} row {line} is not a JSON object")
        yield line, row


def load_distribution_files(paths: Sequence[str | Path], dataset: str,
                            ) -> tuple[list[ItemDistribution], LoadReport]:
    """Items of one dataset from distribution-row files; for a repeated (model, steering
    target, item) the later row wins, as in a resumed results file. Steered rows (steer_to
    set) come back too; `split_steered` parts them from the unsteered."""
    report = LoadReport(files=[str(p) for p in paths])
    found: dict[tuple[str, str, int], ItemDistribution] = {}
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"distribution file {path} does not exist; check the path, or run "
                            f"scripts/create_model_response_{dataset}.py first")
        n_in_file = 0
        runs: dict[str, dict] = {}  # model -> the run identity of its first row
        for line, row in _rows(path):
            where = f"{path} row {line}"
            check_one_run(runs, row, path)
            for key in ("model", "item_id", "probs"):
                if key not in row:
                    raise UserError(f"{where} has no '{key}'; expected distribution rows as "
                                    "written by scripts/create_model_response_*.py")
            row_dataset = row.get("dataset", dataset)
            if row_dataset != dataset:
                raise UserError(f"{where} is a {row_dataset!r} row but the file was given as "
                                f"{dataset}; pass it with --{row_dataset}")
            probs = _probs(row["probs"], where)
            if probs is None:
                report.skipped_no_probs += 1
                continue
            options = tuple(str(o) for o in (row.get("options") or ()))
            if options and len(options) != len(probs):
                raise UserError(f"{where}: {len(probs)} probabilities for {len(options)} options")
            mass = row.get("letter_mass")
            mass_mean = float(np.mean(mass)) if mass else float("nan")
            item = ItemDistribution(
                dataset=dataset, model=model_name(row), item_id=int(row["item_id"]),
                probs=probs, human=_human(row.get("human"), len(probs), where),
                question=str(row.get("question") or ""), options=options,
                backend=str(row.get("backend") or ""), model_id=str(row["model"]),
                model_version=str(row.get("model_version") or ""),
                letter_mass=mass_mean, flags=tuple(row.get("flags") or ()),
                steer_to=None if row.get("steer_to") is None else str(row["steer_to"]),
            )
            key = (item.model, item.model_id, item.steer_to, item.item_id)
            if row.get("model_version"):
                report.versions.setdefault(item.model, set()).add(str(row["model_version"]))
            reps = (row.get("params") or {}).get("reps") or len(row.get("rep_probs") or [])
            if reps:
                report.reps.setdefault(item.model, set()).add(int(reps))
            report.replaced_duplicates += key in found
            found[key] = item
            n_in_file += 1
        if n_in_file == 0:
            raise UserError(f"{path} holds no rows with probabilities; rerun the collection "
                            "script, or leave this file out")
    report.rows = len(found)
    # one name, one model: a name shared by two model ids (one registry entry serving two
    # models) gives way to the model ids, so no two models merge
    ids: dict[str, set[str]] = {}
    for item in found.values():
        ids.setdefault(item.model, set()).add(item.model_id)
    items = [replace(i, model=i.model_id) if len(ids[i.model]) > 1 else i
             for i in found.values()]
    return sorted(items, key=lambda i: (i.model, i.steer_to or "", i.item_id)), report


def split_steered(items: Iterable[ItemDistribution]
                  ) -> tuple[list[ItemDistribution], list[ItemDistribution]]:
    """(unsteered, steered) items."""
    items = list(items)
    return ([i for i in items if i.steer_to is None], [i for i in items if i.steer_to is not None])


def check_one_run(runs: dict[str, dict], row: dict, path: Path) -> None:
    """A file holds one collection run per model: an item row whose run identity
    (`params`: settings, templates, seed, repetitions; its run_id) differs from the first
    row of its model is a UserError naming what differs (rows without a run_id are not
    compared)."""
    params = row.get("params") if isinstance(row.get("params"), dict) else {}
    if not params.get("run_id"):
        return
    model = str(row.get("model"))
    first = runs.setdefault(model, params)
    if first.get("run_id") == params.get("run_id"):
        return
    diff = [f"{k} {first.get(k)!r} and {v!r}" for k, v in params.items()
            if k not in ("run_id", "letter_token_ids") and first.get(k) != v][:2]
    raise UserError(f"{path} mixes items of {model} from two collection runs "
                    f"({'; '.join(diff) or 'run_id ' + str(params['run_id'])}): collect them "
                    "again into one file (the collection script with --redo-stale), or pass "
                    "one run's file")


def attach_mpi_human(items: Iterable[ItemDistribution], human: HumanMPI,
                     group: str = MPI_HUMAN_GROUP) -> list[ItemDistribution]:
    """Give each MPI item the human distribution of its row of mpi_questions.tsv."""
    n_items = human.probs.shape[0]
    out = []
    for item in items:
        if not 0 <= item.item_id < n_items:
            raise UserError(f"MPI item_id {item.item_id} of model {item.model!r} is outside "
                            f"0..{n_items - 1}; were these rows made from mpi_questions.tsv?")
        h = human.probs[item.item_id]
        if len(h) != len(item.probs):
            raise UserError(f"MPI item {item.item_id} of model {item.model!r} has "
                            f"{len(item.probs)} options but the human data has {len(h)}")
        out.append(replace(item, human={group: h}))
    return out


def model_names(items: Iterable[ItemDistribution]) -> dict[str, str]:
    """Names a --pair may use -> the reports' model name (analysis.model_names): the report
    name, and the registry name, model id or model version that stands for one model (e.g.
    'HuggingFaceTB/SmolLM2-135M-Instruct' for 'smollm2-135m-instruct')."""
    return name_lookup((i.model, (i.backend, i.model_id, i.model_version)) for i in items)


def resolve_pair(spec: str, names: dict[str, str] | Iterable[str]) -> tuple[str, str]:
    """'PRETRAINED:ALIGNED' -> the two rows' model names. A side may be a model name or a backend
    name (see model_names); names may hold colons (e.g. 'llama2:13b'), so the split that names
    two known models is taken."""
    names = names if isinstance(names, dict) else {n: n for n in names}
    splits = [(spec[:i], spec[i + 1:]) for i, ch in enumerate(spec) if ch == ":"]
    if not splits:
        raise UserError(f"--pair {spec!r} must be PRETRAINED:ALIGNED (the rows' model names)")
    matching = [s for s in splits if s[0] in names and s[1] in names]
    if len(matching) == 1:
        return names[matching[0][0]], names[matching[0][1]]
    if len(matching) > 1:
        raise UserError(f"--pair {spec!r} can be split in more than one way; rename a model")
    unknown = [n for n in splits[0] if n not in names] if len(splits) == 1 else [spec]
    raise unknown_model(f"--pair {spec!r}", unknown, names)
