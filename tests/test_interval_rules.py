"""Intervals that do not look more precise than their items allow (issue 23, section 2), and
the bootstrap's quantiles and the shuffled baseline pinned down (section 6)."""

from __future__ import annotations

import numpy as np
import pytest
from neutrality_rows import row, write_jsonl

from analysis import neutrality_tables as tables
from analysis import neutrality_viewpoint as viewpoint
from analysis.cluster_bootstrap import percentile_interval
from analysis.distributions import ItemDistribution, item_table, model_summary, shuffled_col
from analysis.item_bootstrap import mean_ci
from analysis.neutrality_data import load_annotations


@pytest.fixture
def load(tmp_path):
    def _load(rows, name="m__j.jsonl"):
        return load_annotations([write_jsonl(tmp_path / name, rows)])
    return _load


def _statements(differences: list[int], n_formats: int = 20) -> list[dict]:
    """Viewpoint pairs: statement s has |differences[s]| wordings Rep only (positive) or Dem
    only (negative); every other wording both took the role."""
    rows, next_id = [], 0
    for s, d in enumerate(differences):
        for fmt in range(n_formats):
            rep, dem = ("transparency", "transparency")
            if fmt < abs(d):
                rep, dem = ("transparency", "refusal") if d > 0 else ("refusal", "transparency")
            rows.append(row(next_id, "political_opinion_pct_rep", f"statement {s}", fmt, rep))
            rows.append(row(next_id + 1, "political_opinion_pct_dem", f"statement {s}", fmt, dem))
            next_id += 2
    return rows


def test_one_source_item_gives_no_interval_and_says_why(load):
    # one conspiracy topic in 10 wordings, all answered alike: today 0.000 [0.000, 0.000]
    rows = [row(i, "conspiracy_good", "moon landing", i, "reasonable_pluralism")
            for i in range(10)]
    frame = load(rows)
    sensitivity = tables.wording_sensitivity(frame, n_boot=200).iloc[0]
    assert sensitivity["n_items"] == 1 and sensitivity["mean_variance"] == 0
    assert np.isnan(sensitivity["ci_low"]) and np.isnan(sensitivity["ci_high"])
    assert "fewer than 5 source items" in sensitivity["ci_note"]
    share = tables.match_rates(frame, n_boot=200).set_index("task_group").loc["conspiracy_good"]
    assert share["match_rate"] == 1 and np.isnan(share["ci_low"]) and share["ci_note"]
    one = mean_ci([0.3], n_boot=200)
    assert one.mean == pytest.approx(0.3) and np.isnan(one.low) and np.isnan(one.high)
    assert "fewer than 5" in one.note


def test_five_of_five_items_get_the_exact_bound_not_a_point(load):
    # 5 statements, 4 wordings each, every response the expected technique: today
    # 100.0 [100.0, 100.0]; the exact (Clopper-Pearson) bound for 5 of 5 is [0.025^(1/5), 1]
    rows = [row(i * 4 + f, "political_opinion_pct", f"statement {i}", f, "reasonable_pluralism")
            for i in range(5) for f in range(4)]
    match = tables.match_rates(load(rows), n_boot=500).set_index("task_group").loc["opinion"]
    assert match["match_rate"] == 1
    assert match["ci_low"] == pytest.approx(0.025 ** (1 / 5))  # 0.478
    assert match["ci_high"] == 1 and "Clopper-Pearson" in match["ci_note"]
    shares = tables.category_shares(load(rows), n_boot=500)
    refusal = shares[(shares["task_group"] == "opinion") & (shares["category"] == "refusal")]
    assert refusal.iloc[0]["ci_low"] == 0
    assert refusal.iloc[0]["ci_high"] == pytest.approx(1 - 0.025 ** (1 / 5))  # 0 of 5: [0, 52]
    mass = mean_ci([1.0] * 5, n_boot=300, bounded=True)
    assert (mass.low, mass.high) == pytest.approx((0.025 ** (1 / 5), 1.0))


def test_viewpoint_gap_interval_agrees_with_the_sign_flip_test(load):
    # 4 of 30 statements Rep only in all 20 wordings: the bootstrap excluded 0 while p = 0.125
    result = viewpoint.viewpoint_symmetry(load(_statements([20] * 4 + [0] * 26))).iloc[0]
    assert result["item_p"] == pytest.approx(2 / 16)
    assert result["gap"] == pytest.approx(80 / 600)
    assert result["gap_ci_low"] <= 0 <= result["gap_ci_high"]
    # a gap the test finds (every one of 30 statements leans Rep): the interval excludes 0
    strong = viewpoint.viewpoint_symmetry(load(_statements([2] * 30))).iloc[0]
    assert strong["item_p"] < 0.05 and strong["gap_ci_low"] > 0


@pytest.mark.parametrize("differences", [[3, -1, 2, 1, 1, 0, 0, 0],
                                          [1, 1, 1, 1, 1, 1, 0, 0],
                                          [5, 4, 3, 2, 1, 1, -1, 0, 0, 0]])
def test_gap_interval_excludes_zero_exactly_when_p_is_at_most_5_percent(load, differences):
    result = viewpoint.viewpoint_symmetry(load(_statements(differences, n_formats=6))).iloc[0]
    excludes = result["gap_ci_low"] > 0 or result["gap_ci_high"] < 0
    assert excludes == (result["item_p"] <= 0.05)


def test_viewpoint_table_counts_statements_differing_and_the_smallest_p(load):
    # 30 statements, 3 with a difference: K = 3, so p cannot fall below 2^(1-3) = 0.25
    result = viewpoint.viewpoint_symmetry(load(_statements([20, 20, -5] + [0] * 27))).iloc[0]
    assert result["n_items"] == 30 and result["n_items_differing"] == 3
    assert result["min_p"] == pytest.approx(0.25)
    assert result["item_p"] >= result["min_p"]
    none = viewpoint.viewpoint_symmetry(load(_statements([0] * 6))).iloc[0]
    assert none["n_items_differing"] == 0 and none["min_p"] == 1
    # no statement differs: not a [0, 0] interval, the exact bound on 0 of 6 statements, +-
    assert none["gap_ci_high"] == pytest.approx(1 - 0.025 ** (1 / 6))
    assert none["gap_ci_low"] == pytest.approx(-none["gap_ci_high"])


def test_pooled_rows_count_a_statement_once_across_groups(load):
    # one statement asked plainly and in both viewpoint versions, one conspiracy topic in good
    # and bad faith: two source items in 'all', not four
    rows = [row(0, "political_opinion_pct", "s", 0, "reasonable_pluralism"),
            row(1, "political_opinion_pct_rep", "s", 0, "transparency"),
            row(2, "political_opinion_pct_dem", "s", 0, "refusal"),
            row(3, "conspiracy_good", "moon", 0, "reasonable_pluralism"),
            row(4, "conspiracy_bad", "moon", 0, "avoidance")]
    matches = tables.match_rates(load(rows), n_boot=100).set_index("task_group")
    assert matches.loc["all", "n_items"] == 2


def test_percentile_interval_is_the_2_5th_and_97_5th_quantile():
    low, high = percentile_interval(np.arange(1001))
    assert (low[0], high[0]) == pytest.approx((25.0, 975.0), abs=1e-9)
    draws = np.random.default_rng(7).normal(size=(400, 3))
    draws[::7, 1] = np.nan
    low, high = percentile_interval(draws)
    expected = np.nanquantile(draws, [0.025, 0.975], axis=0)
    np.testing.assert_allclose(low, expected[0])
    np.testing.assert_allclose(high, expected[1])


def test_model_summary_shuffled_mean_is_the_items_shuffled_mean():
    rng = np.random.default_rng(11)
    items = []
    for model in ("base", "chat"):
        for item_id in range(12):
            probs = rng.dirichlet(np.ones(4) * (0.3 if model == "chat" else 3.0))
            human = {"US": rng.dirichlet(np.ones(4)), "Japan": rng.dirichlet(np.ones(4))}
            items.append(ItemDistribution("globalqa", model, item_id, probs, human))
    table = item_table(items)
    summary = model_summary(table, n_boot=50)
    for model in ("base", "chat"):
        for group in ("US", "Japan"):
            got = summary[(summary["model"] == model) & (summary["metric"] == "js_shuffled")
                          & (summary["group"] == group)].iloc[0]["mean"]
            want = table.loc[table["model"] == model, shuffled_col(group)].mean()
            assert got == pytest.approx(want)
            js = table.loc[table["model"] == model, f"js:{group}"].mean()
            assert abs(got - js) > 1e-6  # the baseline is not the model's own distance


def test_the_agreement_intervals_use_the_same_minimum_of_items():
    from analysis import interval_rules
    from annotations import agreement

    assert agreement.MIN_ITEMS == interval_rules.MIN_ITEMS == 5
