"""The coverage judge against our labelled response-option pairs (prompts/overton_labelled.json):
accuracy and Cohen's kappa, each with a percentile bootstrap interval over ANSWERS (an
answer's options are judged together, so they are resampled together)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from annotations.agreement import bootstrap_ci, ci_note, cohen_kappa
from core.errors import UserError
from core.files import read_json
from prompts import PROMPTS_DIR

DEFAULT_LABELLED = PROMPTS_DIR / "overton_labelled.json"


def load_labelled(path: Path | None = None) -> list[dict[str, Any]]:
    """The labelled answers, each checked: options, response, one boolean label per option."""
    path = Path(path) if path else DEFAULT_LABELLED
    raw = read_json(path, "labelled Overton set", "restore prompts/overton_labelled.json")
    answers = raw.get("answers") if isinstance(raw, dict) else None
    if not isinstance(answers, list) or not answers:
        raise UserError(f"labelled Overton set {path} needs a non-empty 'answers' list")
    for a in answers:
        options, labels = a.get("options"), a.get("labels")
        if not (isinstance(options, list) and isinstance(labels, list)
                and len(options) == len(labels) and all(isinstance(x, bool) for x in labels)
                and isinstance(a.get("response"), str) and "id" in a):
            raise UserError(f"labelled Overton set {path}: answer {a.get('id')!r} needs id, "
                            "response, options and one true/false label per option")
    return answers


def answer_rows(labelled: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The labelled answers as open-answer rows the coverage judge reads (item_id = id)."""
    return [{"item_id": a["id"], "sample": 0, "backend": "labelled", "model": "labelled",
             "question": a.get("question", ""), "options": a["options"], "human": {},
             "input": a.get("question", ""), "response": a["response"], "error": None,
             "provider_message": None} for a in labelled]


def agreement(labelled: Sequence[dict[str, Any]], coverage: Sequence[dict[str, Any]], *,
              reps: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Accuracy and Cohen's kappa of the judge's `covered` against the labels, on the pairs
    the judge could read (unreadable pairs counted), overall and on the hard pairs."""
    judged = {r["item_id"]: r for r in coverage}
    pairs: list[tuple[int, bool, bool, bool]] = []  # (answer index, label, judge, hard)
    unreadable = missing = failed = 0
    for k, a in enumerate(labelled):
        row = judged.get(a["id"])
        if row is None:
            missing += len(a["options"])
            continue
        if row.get("status") == "error":  # a judge call failed: a failure, not unreadable
            failed += len(a["options"])
            continue
        for i, label in enumerate(a["labels"]):
            value = (row.get("covered") or [None] * len(a["labels"]))[i]
            if value is None:
                unreadable += 1
                continue
            pairs.append((k, label, bool(value), i in a.get("hard", [])))

    def stats(chosen: list[tuple[int, bool, bool, bool]]) -> dict[str, Any]:
        if not chosen:
            return {"n": 0, "accuracy": float("nan"), "accuracy_ci": [float("nan")] * 2,
                    "cohen_kappa": float("nan"), "cohen_kappa_ci": [float("nan")] * 2,
                    "accuracy_ci_note": "", "cohen_kappa_ci_note": ""}
        answers = sorted({p[0] for p in chosen})
        by_answer = {a: [p for p in chosen if p[0] == a] for a in answers}

        def accuracy(sub: list[tuple[int, bool, bool, bool]]) -> float:
            return float(np.mean([p[1] == p[2] for p in sub])) if sub else float("nan")

        def kappa(sub: list[tuple[int, bool, bool, bool]]) -> float:
            return cohen_kappa([str(p[1]) for p in sub], [str(p[2]) for p in sub]) \
                if sub else float("nan")

        def over(f: Any) -> Any:
            return lambda idx: f([p for j in idx for p in by_answer[answers[j]]])

        out: dict[str, Any] = {"n": len(chosen), "accuracy": accuracy(chosen),
                               "cohen_kappa": kappa(chosen)}
        for name, f in (("accuracy", accuracy), ("cohen_kappa", kappa)):
            ci = bootstrap_ci(over(f), len(answers), reps=reps, seed=seed)
            # why an interval is missing (too few answers, or every resample the same)
            out[name + "_ci"], out[name + "_ci_note"] = list(ci), ci_note(len(answers), None, ci)
        return out

    return {"pairs": len(pairs) + unreadable + missing + failed, "unreadable": unreadable,
            "not_judged": missing, "judge_failed": failed, "all": stats(pairs),
            "hard": stats([p for p in pairs if p[3]]),
            "clear": stats([p for p in pairs if not p[3]])}


def format_agreement(result: dict[str, Any]) -> str:
    lines = [f"labelled pairs: {result['pairs']} ({result['unreadable']} unreadable, "
             f"{result['judge_failed']} judge call failed, {result['not_judged']} not judged: "
             "left out)"]

    def interval(s: dict[str, Any], name: str) -> str:
        lo, hi = s[name + "_ci"]
        return f"({s[name + '_ci_note']})" if lo != lo else f"[{lo:.3f}, {hi:.3f}]"

    for part in ("all", "clear", "hard"):
        s = result[part]
        if not s["n"]:
            continue
        lines.append(f"{part}: {s['n']} pairs; accuracy {s['accuracy']:.3f} "
                     f"{interval(s, 'accuracy')}; Cohen's kappa {s['cohen_kappa']:.3f} "
                     f"{interval(s, 'cohen_kappa')}")
    lines.append("intervals: 95 % percentile bootstrap over answers")
    return "\n".join(lines)
