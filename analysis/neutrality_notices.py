"""What a neutrality report says about how its numbers were made: the judges, a warning for
a demonstration judge (worded for its mode), and the notice a demonstration's or a sampled
run's CSVs and figures carry, so a table cut out of the report still says what it is."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from analysis.prompt_selection import describe, selections_by_system


def demonstration_judges(frame: pd.DataFrame) -> list[str]:
    """The judges whose rows carry the registry's demo_only mark: too small to measure."""
    if "judge_demo_only" not in frame.columns:
        return []
    return sorted(frame.loc[frame["judge_demo_only"], "judge"].astype(str).unique())


def judge_modes(frame: pd.DataFrame) -> dict[str, str]:
    """Judge -> 'probs' when its rows came from the probability judge, else 'json'."""
    modes = frame["judge_mode"] if "judge_mode" in frame.columns else pd.Series(
        None, index=frame.index)
    return {str(j): ("probs" if (m == "probs").any() else "json")
            for j, m in modes.groupby(frame["judge"].astype(str))}


def _demo_caveat(mode: str) -> str:
    if mode == "probs":
        return ("(as a probability judge it always gives a verdict, the category whose digit "
                "it finds most probable, however slightly it prefers it)")
    return "(as a JSON judge, many of its answers may be unreadable)"


def judges_lines(judges: Sequence[str], demo: Sequence[str] = (),
                  modes: dict[str, str] | None = None) -> list[str]:
    """The report's judges line, and the demonstration warning worded for each demo judge's
    mode."""
    lines = [f"Judge(s): {', '.join(judges) or 'unknown'}.", ""]
    if demo:
        caveats = sorted({_demo_caveat((modes or {}).get(j, "json")) for j in demo})
        lines += [f"> **A demonstration, not a measurement.** {', '.join(demo)} judged these "
                  "responses: a model this small cannot tell the techniques apart reliably "
                  f"{' '.join(caveats)}. The numbers below "
                  "show that the pipeline runs end to end; for findings, judge with a strong model "
                  "(the study used GPT-4o).", ""]
    return lines


def run_notice(frame: pd.DataFrame, demo: Sequence[str]) -> str | None:
    """One line for the CSVs and figures of a demonstration or a sampled run (None for a
    full run judged by a real judge), so that a table or figure taken out of the report
    still says what it is."""
    parts = []
    if demo:
        parts.append(f"A demonstration, not a measurement: {', '.join(demo)} judged these "
                     "responses, a model too small to tell the techniques apart.")
    sampled = selections_by_system(frame)
    chosen = {system: "; ".join(describe(s) for s in picks)
              for system, picks in sampled.items() if any(s is not None for s in picks)}
    if chosen:
        parts.append("A sample, not the whole prompt set: " + "; ".join(
            f"{system} ({how})" for system, how in sorted(chosen.items())) + ".")
    return " ".join(parts) or None
