"""The Overton window: the options a real share of a country's people chose, at the
threshold's edges, and the pooled window."""

from __future__ import annotations

import pytest

from pluralism.overton_window import POOLED, pooled_shares, window, windows


def test_an_option_at_exactly_the_threshold_is_in():
    assert window([0.1, 0.9], 0.1) == (0, 1)
    # 0.1 as float arithmetic leaves it (0.7 - 0.6 = 0.09999999999999998) still counts
    assert window([0.7 - 0.6, 0.9], 0.1) == (0, 1)
    assert window([0.0999, 0.9001], 0.1) == (1,)
    assert window([0.25, 0.25, 0.5], 0.25) == (0, 1, 2)
    assert window([0.2, 0.3, 0.5], 0.31) == (2,)


def test_default_threshold_is_a_tenth():
    assert window([0.09, 0.10, 0.81]) == (1, 2)


def test_windows_per_country_and_pooled():
    human = {"United States": [0.5, 0.42, 0.08], "Japan": [0.2, 0.7, 0.1]}
    got = windows(human, ["United States", "Japan"], 0.1)
    assert got["United States"] == (0, 1)
    assert got["Japan"] == (0, 1, 2)
    # pooled: [0.35, 0.56, 0.09] -> the third option falls out
    assert pooled_shares(human) == pytest.approx([0.35, 0.56, 0.09])
    assert got[POOLED] == (0, 1)


def test_one_country_has_no_pooled_window_and_unknown_countries_are_skipped():
    human = {"Japan": [0.5, 0.5]}
    assert windows(human, ["Japan", "France"]) == {"Japan": (0, 1)}
