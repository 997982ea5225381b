"""Load annotation rows (issue 4's JSONL) into one pandas table and check them.

The table has one row per (model, judge, id, sample) with the fields the neutrality analysis
needs, plus `task_group`, `base_task` and `side` derived from the task name, and `halved` /
`explicit`: whether the row's group splits its formats into implicit (0-9) and explicit
(10-19) wordings, and whether the row is an explicit one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from core.errors import UserError
from harness.results import read_checked_jsonl
from neutrality.task_names import SIDES, split_task  # noqa: F401 (SIDES: part of this API)

CATEGORIES = (
    "refusal", "avoidance", "reasonable_pluralism", "transparency", "no_approximation", "bias",
)
# A null final_category is kept as its own category so no row disappears from a share:
# unreadable when the judge answered but no answer could be read, judge_failed when its
# calls failed (parse_status "error": a provider error, to redo with --retry-errors).
UNREADABLE = "unreadable"
JUDGE_FAILED = "judge_failed"
NOT_JUDGED = (UNREADABLE, JUDGE_FAILED)
#: the category shown for an empty answer the provider gave no reason for (a generation
#: row's unexplained_empty): left out of every share, counted in provider_blocked.csv
EMPTY_NO_REASON = "empty, no reason"
SHARE_CATEGORIES = (*CATEGORIES, *NOT_JUDGED)

# The prompt label names the technique the study expected; only one label differs from its category.
EXPECTED_CATEGORY = {
    "no_approximation": "no_approximation",
    "reasonable_pluralism": "reasonable_pluralism",
    "radical_transparency": "transparency",
    "avoidance": "avoidance",
    "refusal": "refusal",
}

# Task -> task group. Opinion prompts from the three sources form one group; their Republican
# and Democrat versions form "viewpoint". An unknown task is its own group.
TASK_GROUPS = {
    "voting_questions": "voting",
    "political_opinion_pct": "opinion",
    "political_opinion_debatune": "opinion",
    "political_opinion_topics": "opinion",
    "conspiracy_good": "conspiracy_good",
    "conspiracy_bad": "conspiracy_bad",
    "universal_rights": "universal_rights",
    "unsafe_questions": "unsafe",
}
GROUP_ORDER = (
    "voting", "opinion", "viewpoint", "conspiracy_good", "conspiracy_bad", "universal_rights",
    "unsafe",
)
GROUP_DESCRIPTIONS = {
    "voting": "voting_questions",
    "opinion": "political_opinion_pct, political_opinion_debatune, political_opinion_topics",
    "viewpoint": "political_opinion_{pct,debatune,topics}_rep and _dem",
    "conspiracy_good": "conspiracy_good (good-faith questions)",
    "conspiracy_bad": "conspiracy_bad (bad-faith, leading questions)",
    "universal_rights": "universal_rights",
    "unsafe": "unsafe_questions",
}
# Groups whose 20 formats are 10 implicit wordings (0-9, asking for an opinion) and 10 explicit
# ones (10-19, setting a scenario). The conspiracy prompts' 10 formats are neither half.
HALVED_GROUPS = ("opinion", "viewpoint", "universal_rights")

REQUIRED_FIELDS = (
    "id", "sample", "model", "judge", "label", "task", "original_input", "format_number",
    "final_category", "answers",
)
#: kept when a row has them, for report.html's table of every response
#: judge_probs: the probability judge's distribution (annotate.py --judge-mode probs)
OPTIONAL_FIELDS = ("parse_status", "input", "response", "evals", "votes", "judge_probs",
                   "digit_mass", "judge_mode", "model_id", "model_version")
PROMPT_COLUMNS = ("id", "input", "label", "task", "original_input", "format_number")
#: the full prompt set scripts/create_test_dataset.py builds, the default for missing rows
DEFAULT_PROMPTS = Path(__file__).resolve().parents[1] / "Data" / "test_input.csv"


def normalise_task(task: str) -> str:
    """Our task name for a study task name (the study spelt conspiracy 'consipracy')."""
    return task.replace("consipracy_", "conspiracy_")


def task_group(task: str) -> str:
    """The task group of a (normalised) task name; see TASK_GROUPS."""
    base, side = split_task(task)
    if side is not None and TASK_GROUPS.get(base) == "opinion":
        return "viewpoint"
    return TASK_GROUPS.get(task, task)


def group_order(groups: Iterable[str]) -> list[str]:
    """Known groups in the study's order, then any others alphabetically."""
    present = set(groups)
    return [g for g in GROUP_ORDER if g in present] + sorted(present - set(GROUP_ORDER))


def _read_rows(path: Path) -> list[dict]:
    """Rows of one annotation file; a torn last line (a crash mid-write) is skipped."""
    fix = ("annotation rows need " + ", ".join(REQUIRED_FIELDS)
           + " (as scripts/annotate.py writes them)")
    return [row for _, row in read_checked_jsonl(path, REQUIRED_FIELDS, what="annotation file",
                                                 fix=fix)]


#: what a generation row was made from, as its annotation row records it (the seed left
#: out: each sample has its own)
def _generation_request(row: dict) -> dict:
    params = row.get("generation_params")
    params = {k: v for k, v in params.items() if k != "seed"} if isinstance(params, dict) else {}
    return {"model id": row.get("model_id"), **params}


def check_one_run(rows: Sequence[dict], path: Path) -> None:
    """An annotation file holds one generation run per model: answers made with another
    model id or other settings (`generation_params`, recorded since the rows carry it) are
    a UserError naming what differs. Rows without the record are not compared."""
    first: dict[str, dict] = {}
    for row in rows:
        if "generation_params" not in row:
            continue
        now = _generation_request(row)
        seen = first.setdefault(str(row["model"]), now)
        if now != seen:
            what = next(k for k in {**seen, **now} if seen.get(k) != now.get(k))
            raise UserError(
                f"{path} mixes answers of {row['model']} made with other settings ({what} "
                f"{seen.get(what)!r} and {now.get(what)!r}); the shares of one model need one "
                "run: regenerate them into one file (generate.py --redo-stale) and judge again, "
                "or pass the runs' files separately")


def check_prompt_texts(frame: pd.DataFrame, prompts: pd.DataFrame | None,
                       source: str | Path | None) -> None:
    """Rows whose input is not the prompt set's text for their id (the test set was rebuilt
    after they were made) are a UserError: they answer other prompts than those they are
    counted against."""
    if prompts is None or "input" not in frame:
        return
    merged = frame[["model", "id", "input"]].merge(
        prompts[["id", "input"]].drop_duplicates("id"), on="id", suffixes=("", "_set"))
    merged = merged[merged["input"].notna() & merged["input_set"].notna()]
    differ = merged[merged["input"].astype(str) != merged["input_set"].astype(str)]
    if len(differ):
        first = differ.iloc[0]
        raise UserError(
            f"{len(differ)} row(s) answer another prompt text than {source} holds for their id "
            f"(first: model {first['model']}, id {first['id']}): regenerate them from this "
            "prompt set (generate.py --redo-stale) and judge again, or pass --prompts with "
            "the prompt set they were made from")


def load_annotations(paths: Sequence[str | Path]) -> pd.DataFrame:
    """One table of annotation rows from JSONL files; raises UserError on bad input."""
    if not paths:
        raise UserError("no annotation files given: pass results/annotations/*.jsonl")
    columns: dict[str, list] = {f: [] for f in REQUIRED_FIELDS if f != "answers"}
    columns.update(bias=[], source_file=[], selection=[], provider_blocked=[], judge_demo_only=[],
                   unexplained_empty=[], **{f: [] for f in OPTIONAL_FIELDS})
    for path in map(Path, paths):
        rows = _read_rows(path)
        check_one_run(rows, path)
        for row in rows:
            for field in REQUIRED_FIELDS:
                if field != "answers":
                    columns[field].append(row[field])
            for field in OPTIONAL_FIELDS:
                columns[field].append(row.get(field))
            # absent in rows written before the flag existed: not blocked
            columns["provider_blocked"].append(bool(row.get("provider_blocked")))
            columns["unexplained_empty"].append(bool(row.get("unexplained_empty")))
            # the registry's "too small to measure" mark, as the annotation run recorded it
            columns["judge_demo_only"].append(bool(row.get("judge_demo_only")))
            selection = row.get("selection")  # the prompts a sampled run chose; None: all
            columns["selection"].append(
                None if selection is None else json.dumps(selection, sort_keys=True))
            answers = row["answers"] if isinstance(row["answers"], dict) else {}
            columns["bias"].append(answers.get("bias"))
            columns["source_file"].append(path.name)
    frame = pd.DataFrame(columns)
    if frame.empty:
        raise UserError("the annotation files hold no rows: run scripts/annotate.py first")
    return prepare(frame)


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Derived columns, checked values and duplicates removed (the last row of a key wins)."""
    frame = frame.copy()
    frame["task"] = frame["task"].astype(str).map(normalise_task)
    unknown = set(frame["final_category"].dropna()) - set(CATEGORIES)
    if unknown:
        raise UserError(f"unknown final_category {sorted(unknown)[0]!r}: expected one of "
                        + ", ".join(CATEGORIES) + " or null")
    bad_labels = set(frame["label"]) - set(EXPECTED_CATEGORY)
    if bad_labels:
        raise UserError(f"unknown prompt label {sorted(bad_labels)[0]!r}: expected one of "
                        + ", ".join(EXPECTED_CATEGORY))
    for column in ("id", "sample", "format_number"):
        numbers = pd.to_numeric(frame[column], errors="coerce")
        if numbers.isna().any() or (numbers % 1 != 0).any():
            bad = frame.loc[numbers.isna() | (numbers % 1 != 0), column].iloc[0]
            raise UserError(f"field '{column}' must be a whole number, got {bad!r}: fix the "
                            "annotation rows (scripts/annotate.py writes integers)")
        frame[column] = numbers.astype(int)
    frame["original_input"] = frame["original_input"].astype(str)
    frame = frame.drop_duplicates(["model", "judge", "id", "sample"], keep="last")
    # Two judges of one model would mix in a share: name each (model, judge) pair then.
    judges_per_model = frame.groupby("model")["judge"].transform("nunique")
    frame["system"] = frame["model"].where(
        judges_per_model == 1, frame["model"] + " (judge " + frame["judge"] + ")")
    split = frame["task"].map(split_task)
    frame["base_task"] = split.str[0]
    frame["side"] = split.str[1]
    frame["task_group"] = frame["task"].map(task_group)
    failed = frame["final_category"].isna() & frame["parse_status"].eq("error")
    frame["category"] = frame["final_category"].fillna(UNREADABLE).mask(failed, JUDGE_FAILED)
    if "unexplained_empty" in frame.columns:  # judged 'No Response', yet not a refusal
        frame["unexplained_empty"] = frame["unexplained_empty"].astype(bool)
        frame.loc[frame["unexplained_empty"], "category"] = EMPTY_NO_REASON
    frame["expected"] = frame["label"].map(EXPECTED_CATEGORY)
    frame["match"] = frame["final_category"] == frame["expected"]
    frame["halved"] = frame["task_group"].isin(HALVED_GROUPS)
    frame["explicit"] = frame["halved"] & (frame["format_number"] >= 10)
    return frame.reset_index(drop=True)


def prompt_set_path(given: str | Path | None) -> Path | None:
    """The prompt set to count missing rows against: the one given, else Data/test_input.csv
    when it exists, else None (missing rows are not counted)."""
    if given:
        return Path(given)
    return DEFAULT_PROMPTS if DEFAULT_PROMPTS.is_file() else None


def load_prompts(path: str | Path) -> pd.DataFrame:
    """The full prompt set CSV (id, input, label, task, original_input, format_number)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"prompt set {path} does not exist: build it with "
                        "scripts/create_test_dataset.py or drop --prompts")
    try:
        prompts = pd.read_csv(path, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise UserError(f"cannot read prompt set {path} as CSV: {exc}") from exc
    missing = [c for c in PROMPT_COLUMNS if c not in prompts.columns]
    if missing:
        raise UserError(f"prompt set {path} lacks column '{missing[0]}': it needs "
                        + ", ".join(PROMPT_COLUMNS))
    prompts = prompts.loc[:, list(PROMPT_COLUMNS)].copy()
    prompts["task"] = prompts["task"].astype(str).map(normalise_task)
    prompts["task_group"] = prompts["task"].map(task_group)
    return prompts
