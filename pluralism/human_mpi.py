"""Human answer distributions for the 120 MPI (IPIP-NEO-120) items from a survey response file.

The file is a CSV (or TSV) whose LAST 120 columns are the items in mpi_questions.tsv order, with
values 1-5 (1 = Very Inaccurate ... 5 = Very Accurate) and 0 (or an empty cell) = not answered,
which is left out. Johnson's IPIP-NEO-120 data (https://osf.io/tbmh5/) is laid out this way.

The distribution over the answer letters A..E is the share of answers 5, 4, 3, 2, 1 among the
people who answered the item (A = Very Accurate, as in the model prompt).

Minus-keyed items (key = -1, e.g. "Find it difficult to approach others" for Extraversion):
the study recoded them 1<->5 and 2<->4 before counting, describing its file as "labelled
backwards on the original survey" for those items, i.e. the file held the SCORED value
(already reversed towards the trait), not what the person ticked. Whether a file needs that
depends on how it was exported:
- a file of trait-scored values (minus-keyed items already reversed, as the study's was): recode
  (the default, `recode_minus_keyed=True`), which restores the answer the person gave;
- a raw export that records the option each person chose: do NOT recode
  (`recode_minus_keyed=False`, `--no-recode-minus-keyed`), or the letters come out mirrored.
`keying_correlation` tells them apart: on a raw file, answers to a minus-keyed item and a
plus-keyed item of the same facet ("Make friends easily" / "Find it difficult to approach
others") correlate negatively across people; on a pre-reversed file, positively.

Difference from the study: its script built each item's distribution from a Python `set` of
the value counts taken in frequency order. A set keeps neither the order of the answers nor
repeated counts (two answers with the same count collapse into one), so its shares came out
attached to the wrong letters, and sometimes with a letter missing. Here each share belongs to
its own answer value, counted with numpy.
"""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import UserError

N_ITEMS = 120
LETTERS = ("A", "B", "C", "D", "E")
# letter A..E <- answer value 5..1
VALUES_BY_LETTER = (5, 4, 3, 2, 1)


@dataclass(frozen=True)
class HumanMPI:
    """Per-item human distributions (rows: items in mpi_questions.tsv order; columns: A..E)."""

    probs: np.ndarray  # (120, 5); a row of NaN where nobody answered the item
    answered: np.ndarray  # (120,) number of people who answered each item
    respondents: int  # rows in the file
    recoded_minus_keyed: bool
    source: str
    keying_r: float = float("nan")  # keying_correlation of the file (NaN: facets not given)


def read_mpi_keying(path: str | Path) -> tuple[list[int], list[str]]:
    """The `key` (1 or -1) and facet (`label_raw`) of each item of mpi_questions.tsv, in order.

    A minimal reader for the two columns this module needs; pluralism.items owns the full loader.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(
            f"MPI item file {path} is missing; run `python scripts/fetch_data.py` "
            "or pass --mpi-items FILE"
        )
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        missing = {"key", "label_raw"} - set(reader.fieldnames or [])
        if missing:
            raise UserError(f"{path} has no column {sorted(missing)[0]!r}; expected "
                            "mpi_questions.tsv (label_raw, text, label_ocean, key)")
        keys, facets = [], []
        for n, row in enumerate(reader, start=2):
            try:
                key = int(row["key"])
            except (TypeError, ValueError):
                key = 0
            if key not in (1, -1):
                raise UserError(f"{path} line {n}: key must be 1 or -1, got {row['key']!r}")
            keys.append(key)
            facets.append(row["label_raw"])
    if len(keys) != N_ITEMS:
        raise UserError(f"{path} holds {len(keys)} items; the MPI has {N_ITEMS}")
    return keys, facets


def read_mpi_keys(path: str | Path) -> list[int]:
    """The `key` column (1 or -1) of mpi_questions.tsv, in item order."""
    return read_mpi_keying(path)[0]


def keying_correlation(values: np.ndarray, keys, facets) -> float:
    """How the file codes minus-keyed items, read from the answers as written.

    Per facet that has both plus- and minus-keyed items: the correlation across people between
    their mean answer on the plus items and on the minus items; the mean over facets is returned.
    Negative: the file records the answers as ticked (do not recode). Positive: minus-keyed
    items are already reversed (recode, as the study did). NaN where it cannot be computed.
    """
    values = np.asarray(values, dtype=np.float64)
    values = np.where(values > 0, values, np.nan)
    keys = np.asarray(keys)
    facets = np.asarray(facets)
    rs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: people who skipped
        for facet in dict.fromkeys(facets.tolist()):
            plus = (facets == facet) & (keys == 1)
            minus = (facets == facet) & (keys == -1)
            if not plus.any() or not minus.any():
                continue
            a = np.nanmean(values[:, plus], axis=1)
            b = np.nanmean(values[:, minus], axis=1)
            ok = np.isfinite(a) & np.isfinite(b)
            if ok.sum() > 2 and a[ok].std() > 0 and b[ok].std() > 0:
                rs.append(np.corrcoef(a[ok], b[ok])[0, 1])
    return float(np.mean(rs)) if rs else float("nan")


def _delimiter(path: Path) -> str:
    with path.open(encoding="utf-8-sig", errors="replace") as fh:
        header = fh.readline()
    return "\t" if header.count("\t") > header.count(",") else ","


def read_responses(path: str | Path, n_items: int = N_ITEMS) -> np.ndarray:
    """The last `n_items` columns of a response file as an (people, items) int array; 0 = none.

    Only those columns are parsed (pandas usecols), so a 145k-row file reads in seconds.
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise UserError(f"MPI human response file {path} does not exist; check --mpi-human")
    sep = _delimiter(path)
    header = pd.read_csv(path, sep=sep, nrows=0, encoding="utf-8-sig").columns
    if len(header) < n_items:
        raise UserError(
            f"{path} has {len(header)} columns; the last {n_items} must be the MPI items "
            "in mpi_questions.tsv order"
        )
    wanted = list(range(len(header) - n_items, len(header)))
    frame = pd.read_csv(path, sep=sep, usecols=wanted, encoding="utf-8-sig",
                        dtype="float64", na_values=["", " "], keep_default_na=True,
                        on_bad_lines="error")
    if frame.empty:
        raise UserError(f"{path} has no response rows")
    values = frame.to_numpy()
    values = np.where(np.isnan(values), 0.0, values)  # an empty cell is an unanswered item
    bad = (values != np.round(values)) | (values < 0) | (values > 5)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise UserError(
            f"{path}: column '{frame.columns[col]}' row {row + 1} holds {values[row, col]!r}; "
            "item answers must be 1-5, or 0/empty for not answered"
        )
    return np.ascontiguousarray(values, dtype=np.int8)  # small and fast to count


def distributions_from_responses(values: np.ndarray, keys: list[int] | np.ndarray,
                                 recode_minus_keyed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per-item shares over letters A..E (answers 5..1) and the number answering each item.

    values: (people, items) ints 0-5, 0 = not answered. keys: 1 or -1 per item.
    """
    values = np.asarray(values)
    if values.size and (values.min() < 0 or values.max() > 5):
        raise ValueError("answers must be 0-5 (0 = not answered)")
    values = np.ascontiguousarray(values, dtype=np.int8)
    keys = np.asarray(keys)
    n_items = values.shape[1]
    if keys.shape != (n_items,):
        raise ValueError(f"{len(keys)} keys for {n_items} item columns")
    # one bincount over all items: item j's value v lands in bin 6*j + v
    offsets = 6 * np.arange(n_items, dtype=np.int64)
    counts = np.bincount((values + offsets).ravel(), minlength=6 * n_items).reshape(n_items, 6)
    by_value = counts[:, 1:]  # answers 1..5; column 0 (not answered) dropped
    if recode_minus_keyed:
        minus = keys == -1
        by_value = by_value.copy()
        by_value[minus] = by_value[minus, ::-1]  # 1<->5, 2<->4, 3 stays
    by_letter = by_value[:, ::-1].astype(np.float64)  # A = 5 ... E = 1
    answered = by_letter.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        probs = by_letter / answered[:, None]
    return probs, answered.astype(np.int64)


def human_mpi_distributions(path: str | Path, keys: list[int], recode_minus_keyed: bool = True,
                            facets: list[str] | None = None) -> HumanMPI:
    """Read a response file and build the human distribution of every MPI item; with the
    items' facets, also check how the file codes minus-keyed items (keying_correlation)."""
    values = read_responses(path, len(keys))
    probs, answered = distributions_from_responses(values, keys, recode_minus_keyed)
    keying_r = keying_correlation(values, keys, facets) if facets is not None else float("nan")
    return HumanMPI(probs=probs, answered=answered, respondents=int(values.shape[0]),
                    recoded_minus_keyed=recode_minus_keyed, source=str(path), keying_r=keying_r)


def keying_advice(human: HumanMPI, threshold: float = 0.1) -> str:
    """One sentence on whether the recoding setting fits the file, for the report."""
    r = human.keying_r
    if not np.isfinite(r):
        return ""
    setting = "recoded" if human.recoded_minus_keyed else "not recoded"
    head = (f"Keying check: across people, answers to plus- and minus-keyed items of the same "
            f"facet correlate r = {r:.2f} as written in the file")
    if abs(r) < threshold:
        return f"{head}, too weak to tell how the file codes minus-keyed items."
    pre_reversed = r > 0
    if pre_reversed == human.recoded_minus_keyed:
        return f"{head}, which fits the setting used (minus-keyed items {setting})."
    fix = "--no-recode-minus-keyed" if human.recoded_minus_keyed else "--recode-minus-keyed"
    kind = "already reversed" if pre_reversed else "recorded as ticked"
    return (f"WARNING: {head}: minus-keyed items look {kind}, but they were {setting}; "
            f"rerun with {fix}.")
