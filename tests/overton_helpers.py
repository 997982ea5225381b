"""A small synthetic GlobalOpinionQA file for the Overton tests (the dataset's own layout)."""

from __future__ import annotations

from pathlib import Path

from tests.distribution_helpers import selections, write_globalqa_csv

#: item 0: a two-sided question; item 1: one option held by nearly everyone (one-option window
#: in the US); item 2: Japan only (not kept with both countries); item 3: three options, one
#: exactly at the threshold in Japan
OVERTON_ROWS = [
    {"question": "Should taxes on the rich go up?", "options": "['Yes', 'No']",
     "selections": selections({"United States": [0.55, 0.45], "Japan": [0.7, 0.3]})},
    {"question": "Is the earth round?", "options": "['Yes', 'No']",
     "selections": selections({"United States": [0.95, 0.05], "Japan": [0.85, 0.15]})},
    {"question": "Only asked in Japan?", "options": "['Yes', 'No']",
     "selections": selections({"Japan": [0.5, 0.5]})},
    {"question": "How much should the state spend on defence?",
     "options": "['More', 'The same', 'Less']",
     "selections": selections({"United States": [0.5, 0.42, 0.08],
                               "Japan": [0.2, 0.7, 0.1]})},
]


def write_overton_csv(path: Path) -> Path:
    return write_globalqa_csv(path, OVERTON_ROWS)
