"""Steerability numbers (steerability.csv) against a hand computation on synthetic rows, and
the report's section, through scripts/analyze_distributions.py."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.script_entry import script_main

HUMAN = {  # item -> country -> people's distribution
    0: {"United States": [0.6, 0.4], "Japan": [0.2, 0.8]},
    1: {"United States": [0.3, 0.3, 0.4], "Japan": [0.1, 0.6, 0.3]},
    2: {"United States": [0.5, 0.5], "Japan": [0.9, 0.1]},
}
PLAIN = {"base": {0: [0.5, 0.5], 1: [0.2, 0.5, 0.3], 2: [0.5, 0.5]},
         "chat": {0: [0.9, 0.1], 1: [0.8, 0.1, 0.1], 2: [0.4, 0.6]}}
STEERED = {  # model -> target -> item -> steered distribution
    "base": {"Japan": {0: [0.3, 0.7], 1: [0.1, 0.7, 0.2], 2: [0.8, 0.2]},
             "United States": {0: [0.55, 0.45], 1: [0.3, 0.4, 0.3], 2: [0.45, 0.55]}},
    "chat": {"Japan": {0: [0.85, 0.15], 1: [0.7, 0.2, 0.1], 2: [0.45, 0.55]},
             "United States": {0: [0.9, 0.1], 1: [0.8, 0.1, 0.1], 2: [0.4, 0.6]}},
}


def js2(p, q) -> float:
    """Jensen-Shannon distance, base 2, written out."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    m = (p + q) / 2
    kl = lambda a, b: sum(x * math.log2(x / y) for x, y in zip(a, b, strict=True) if x > 0)  # noqa: E731
    return math.sqrt((kl(p, m) + kl(q, m)) / 2)


def _row(model: str, item_id: int, probs, steer_to=None) -> dict:
    n = len(probs)
    return {"dataset": "globalqa", "item_id": item_id, "steer_to": steer_to,
            "steer_text": f"As someone from {steer_to}" if steer_to else None,
            "question": f"Question {item_id}?", "options": [f"o{k}" for k in range(n)],
            "probs": probs, "letter_mass": [0.9], "model": model, "backend": model,
            "flags": [], "human": HUMAN[item_id]}


def _files(tmp_path: Path) -> list[Path]:
    paths = []
    for model in PLAIN:
        rows = [_row(model, i, p) for i, p in PLAIN[model].items()]
        rows += [_row(model, i, p, t) for t, by in STEERED[model].items() for i, p in by.items()]
        path = tmp_path / "g" / f"{model}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        paths.append(path)
    return paths


def test_steerability_csv_equals_a_hand_computation(tmp_path):
    out = tmp_path / "report"
    main = script_main("analyze_distributions")
    assert main(["--globalqa", *map(str, _files(tmp_path)), "--pair", "base:chat",
                 "--out-dir", str(out), "--bootstrap", "500"]) == 0
    table = pd.read_csv(out / "steerability.csv")
    assert len(table) == 4
    for model in PLAIN:
        for target, other in (("Japan", "United States"), ("United States", "Japan")):
            got = table[(table["model"] == model) & (table["target"] == target)].iloc[0]
            steered = STEERED[model][target]
            u = [js2(PLAIN[model][i], HUMAN[i][target]) for i in HUMAN]
            s = [js2(steered[i], HUMAN[i][target]) for i in HUMAN]
            gains = [a - b for a, b in zip(u, s, strict=True)]
            assert got["dataset"] == "globalqa" and got["n_items"] == 3
            assert got["js_unsteered"] == pytest.approx(np.mean(u), abs=1e-9)
            assert got["js_steered"] == pytest.approx(np.mean(s), abs=1e-9)
            assert got["gain"] == pytest.approx(np.mean(gains), abs=1e-9)
            # three items: too few for an interval, and the table says why
            assert np.isnan(got["ci_low"]) and np.isnan(got["ci_high"])
            assert "fewer than 5" in got["ci_note"]
            assert got["js_steered_others"] == pytest.approx(
                np.mean([js2(steered[i], HUMAN[i][other]) for i in HUMAN]), abs=1e-9)
            assert got["js_shift"] == pytest.approx(
                np.mean([js2(PLAIN[model][i], steered[i]) for i in HUMAN]), abs=1e-9)
    by = table.set_index(["model", "target"])
    # the base model steered to Japan came closer to Japan, and is closer to Japan than to
    # the United States; the chat model steered to the US did not move at all
    assert by.loc[("base", "Japan"), "gain"] > 0.1
    assert by.loc[("base", "Japan"), "js_steered"] < by.loc[("base", "Japan"),
                                                            "js_steered_others"]
    assert by.loc[("chat", "United States"), "gain"] == pytest.approx(0.0, abs=1e-12)
    assert by.loc[("chat", "United States"), "js_shift"] == pytest.approx(0.0, abs=1e-12)
    pairs = pd.read_csv(out / "steerability_pairs.csv").set_index("target")
    for target in ("Japan", "United States"):
        diff = np.mean([(js2(PLAIN["chat"][i], HUMAN[i][target])
                         - js2(STEERED["chat"][target][i], HUMAN[i][target]))
                        - (js2(PLAIN["base"][i], HUMAN[i][target])
                           - js2(STEERED["base"][target][i], HUMAN[i][target])) for i in HUMAN])
        assert pairs.loc[target, "diff"] == pytest.approx(diff, abs=1e-9)
        assert np.isnan(pairs.loc[target, "diff_ci_low"])  # three items: no interval
        assert "fewer than 5" in pairs.loc[target, "ci_note"]
    # the unsteered comparison is as before: one row per model and item
    items = pd.read_csv(out / "globalqa_items.csv")
    assert len(items) == 6
    report = (out / "report.md").read_text()
    assert "### Steerable pluralism" in report
    assert "figures/globalqa_steerability.png" in report
    assert (out / "figures" / "globalqa_steerability.png").is_file()
    assert (out / "figures" / "globalqa_steer_item_0_base.png").is_file()
    assert "base → chat" in report
    assert "steerable pluralism" in (out / "report.html").read_text()


def _mpi_rows(path: Path, groups: list[str]) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for item_id in range(4):
        for to in [None, *groups]:
            p = rng.dirichlet(np.ones(5)).round(6).tolist()
            rows.append({"dataset": "mpi", "item_id": item_id, "steer_to": to,
                         "steer_text": f"as {to}" if to else None, "question": f"S{item_id}",
                         "options": [], "probs": p, "letter_mass": [0.5], "model": "m",
                         "backend": "m", "flags": []})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_mpi_groups_get_their_peoples_distributions_or_a_note_why_not(tmp_path,
                                                                      fetched_data):
    from tests.test_human_groups import write_file

    rows = _mpi_rows(tmp_path / "mpi" / "m.jsonl", ["SEX=2", "AGE=18-29"])
    people = [(2, 25, "USA", {0: 5})] * 210 + [(1, 25, "UK", {0: 1})] * 200
    human = write_file(tmp_path / "ipip.csv", people)
    items = fetched_data / "pluralism" / "mpi_questions.tsv"
    main = script_main("analyze_distributions")
    out = tmp_path / "with"
    main(["--mpi", str(rows), "--mpi-human", str(human), "--mpi-items", str(items),
          "--out-dir", str(out), "--bootstrap", "100"])
    table = pd.read_csv(out / "steerability.csv").set_index("target")
    assert set(table.index) == {"AGE=18-29", "SEX=2"}
    assert (table["n_items"] == 4).all()
    steered = {(r["item_id"], r["steer_to"]): r["probs"]
               for r in map(json.loads, rows.read_text().splitlines())}
    # the 210 women all answered item 0 with 5 (A)
    want = js2(steered[(0, "SEX=2")], [1, 0, 0, 0, 0])
    got = pd.read_csv(out / "steerability_items.csv")
    hit = got[(got["target"] == "SEX=2") & (got["item_id"] == 0)].iloc[0]
    assert hit["js_steered"] == pytest.approx(want, abs=1e-6)
    assert "SEX=2: 210" in (out / "report.md").read_text()
    # no human file: distributions only, and the report says why no distance is shown
    bare = tmp_path / "bare"
    main(["--mpi", str(rows), "--out-dir", str(bare), "--bootstrap", "100"])
    report = (bare / "report.md").read_text()
    assert "No distance to people is shown" in report
    assert (bare / "figures" / "mpi_steer_item_0_m.png").is_file()
    assert not (bare / "figures" / "mpi_steerability.png").exists()
    assert pd.read_csv(bare / "steerability.csv")["js_shift"].notna().all()


def test_a_demonstration_models_steerability_tables_carry_the_notice(tmp_path):
    # the embedded model is marked demo_only in the registry: a table cut out of the report
    # must still say it is a demonstration
    rows = [{**_row("base", i, p), "backend": "smollm2-135m-instruct"}
            for i, p in PLAIN["base"].items()]
    rows += [{**_row("base", i, p, t), "backend": "smollm2-135m-instruct"}
             for t, by in STEERED["base"].items() for i, p in by.items()]
    path = tmp_path / "demo.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "report"
    assert script_main("analyze_distributions")(
        ["--globalqa", str(path), "--out-dir", str(out), "--bootstrap", "50"]) == 0
    for name in ("steerability.csv", "steerability_items.csv"):
        table = pd.read_csv(out / name)
        assert table["notice"].str.contains("demonstration").all()


def test_a_steered_items_caption_describes_only_what_is_drawn(tmp_path):
    rows = [_row("base", i, p) for i, p in PLAIN["base"].items()]
    rows += [_row("base", i, p, t) for t, by in STEERED["base"].items() for i, p in by.items()]
    for r in rows:
        r["human"] = {}  # no people's distributions: no grey bars
    path = tmp_path / "nohuman.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "report"
    assert script_main("analyze_distributions")(
        ["--globalqa", str(path), "--out-dir", str(out), "--bootstrap", "50"]) == 0
    report = (out / "report.md").read_text()
    captions = [line for line in report.splitlines() if line.startswith("_One item, one model")]
    assert captions and not any("greys" in c for c in captions)
    assert all("no people's bars are drawn" in c for c in captions)
