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
A quick check: on a raw file, agreeing with a minus-keyed item and with a plus-keyed item of the
same facet ("Make friends easily" / "Find it difficult to approach others") should correlate
negatively across people; on a pre-reversed file, positively.

Difference from the study: its script built each item's distribution from a Python `set` of
the value counts taken in frequency order. A set keeps neither the order of the answers nor
repeated counts (two answers with the same count collapse into one), so its shares came out
attached to the wrong letters, and sometimes with a letter missing. Here each share belongs to
its own answer value, counted with numpy.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import UserError

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


def read_mpi_keys(path: str | Path) -> list[int]:
    """The `key` column (1 or -1) of mpi_questions.tsv, in item order.

    A minimal reader for the one column this module needs; pluralism.items owns the full loader.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(
            f"MPI item file {path} is missing; run `python scripts/fetch_data.py` "
            "or pass --mpi-items FILE"
        )
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        if "key" not in (reader.fieldnames or []):
            raise UserError(f"{path} has no column 'key'; expected mpi_questions.tsv "
                            "(label_raw, text, label_ocean, key)")
        keys = []
        for n, row in enumerate(reader, start=2):
            try:
                key = int(row["key"])
            except (TypeError, ValueError):
                key = 0
            if key not in (1, -1):
                raise UserError(f"{path} line {n}: key must be 1 or -1, got {row['key']!r}")
            keys.append(key)
    if len(keys) != N_ITEMS:
        raise UserError(f"{path} holds {len(keys)} items; the MPI has {N_ITEMS}")
    return keys


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


def human_mpi_distributions(path: str | Path, keys: list[int],
                            recode_minus_keyed: bool = True) -> HumanMPI:
    """Read a response file and build the human distribution of every MPI item."""
    values = read_responses(path, len(keys))
    probs, answered = distributions_from_responses(values, keys, recode_minus_keyed)
    return HumanMPI(probs=probs, answered=answered, respondents=int(values.shape[0]),
                    recoded_minus_keyed=recode_minus_keyed, source=str(path))
