"""Distances, entropies, the shuffled baseline, bootstrap and the paired test, by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta

from analysis.distributions import (
    ItemDistribution,
    compare_pair,
    entropy_nats,
    item_rng,
    item_table,
    js_distance,
    model_summary,
    permutations,
    shuffled_js_distance,
    wilcoxon_paired,
)
from analysis.item_bootstrap import mean_ci, paired_difference_ci


def test_js_distance_of_disjoint_distributions_is_one():
    assert js_distance([1, 0], [0, 1]) == pytest.approx(1.0)


def test_js_distance_of_identical_distributions_is_zero():
    assert js_distance([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == pytest.approx(0.0, abs=1e-12)


def test_js_distance_by_hand():
    # P = [1, 0], Q = [1/2, 1/2], M = [3/4, 1/4]
    # KL(P||M) = log2(4/3); KL(Q||M) = 1/2 log2(2/3) + 1/2 log2(2)
    jsd = 0.5 * (math.log2(4 / 3) + 0.5 * math.log2(2 / 3) + 0.5 * 1.0)
    assert js_distance([1, 0], [0.5, 0.5]) == pytest.approx(math.sqrt(jsd))  # 0.5579


def test_js_distance_rows_at_once():
    d = js_distance(np.array([[1, 0], [0.5, 0.5]]), np.array([[0, 1], [0.5, 0.5]]))
    np.testing.assert_allclose(d, [1.0, 0.0], atol=1e-12)


def test_entropy_in_nats_by_hand():
    assert entropy_nats([0.5, 0.5]) == pytest.approx(math.log(2))
    # -(1/2 ln 1/2 + 2 * 1/4 ln 1/4) = 1.5 ln 2
    assert entropy_nats([0.5, 0.25, 0.25]) == pytest.approx(1.5 * math.log(2))
    assert entropy_nats([1, 0, 0]) == pytest.approx(0.0)


def test_shuffled_baseline_over_given_permutations():
    # model [1,0] vs human [1,0]: identity gives 0, the swap gives 1
    perms = np.array([[0, 1], [1, 0], [1, 0]])
    assert shuffled_js_distance([1, 0], [1, 0], perms) == pytest.approx(2 / 3)


def test_shuffled_baseline_over_all_permutations_of_three():
    from itertools import permutations as all_perms

    perms = np.array(list(all_perms(range(3))))
    # the model's mass lands on the human's option in 2 of 6 orders (distance 0), else 1
    assert shuffled_js_distance([1, 0, 0], [0, 0, 1], perms) == pytest.approx(4 / 6)


def test_permutations_are_seeded_per_item():
    a = permutations(5, 10, item_rng(0, 7))
    b = permutations(5, 10, item_rng(0, 7))
    c = permutations(5, 10, item_rng(0, 8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert (np.sort(a, axis=1) == np.arange(5)).all()


def _item(model, item_id, probs, human):
    return ItemDistribution(dataset="globalqa", model=model, item_id=item_id,
                            probs=np.asarray(probs, float),
                            human={g: np.asarray(h, float) for g, h in human.items()})


def test_item_table_distances_entropies_and_human_pair():
    items = [_item("m", 0, [1, 0], {"US": [0, 1], "Japan": [0.5, 0.5]})]
    table = item_table(items, n_shuffles=4, seed=1)
    row = table.iloc[0]
    assert row["js:US"] == pytest.approx(1.0)
    assert row["js:Japan"] == pytest.approx(0.5579230, abs=1e-6)
    assert row["js_humans:US|Japan"] == pytest.approx(0.5579230, abs=1e-6)
    assert row["model_entropy"] == pytest.approx(0.0)
    assert row["human_entropy:Japan"] == pytest.approx(math.log(2))
    perms = permutations(2, 4, item_rng(1, 0))
    swaps = (perms[:, 0] == 1).mean()
    assert row["js_shuffled:US"] == pytest.approx(1.0 - swaps)


def test_item_table_missing_group_gives_nan():
    items = [_item("m", 0, [1, 0], {"US": [0, 1]}), _item("m", 1, [1, 0], {"Japan": [1, 0]})]
    table = item_table(items)
    assert np.isnan(table.loc[1, "js:US"]) and np.isnan(table.loc[0, "js:Japan"])


def test_model_summary_mean_over_items():
    shapes = [([1, 0], [0, 1]), ([1, 0], [1, 0]), ([0.5, 0.5], [0.5, 0.5])] * 2
    items = [_item("m", i, probs, {"US": human}) for i, (probs, human) in enumerate(shapes)]
    summary = model_summary(item_table(items), n_boot=500)
    js = summary[(summary["metric"] == "js") & (summary["group"] == "US")].iloc[0]
    assert js["mean"] == pytest.approx(1 / 3)
    assert js["n_items"] == 6
    assert 0.0 <= js["ci_low"] <= js["mean"] <= js["ci_high"] <= 1.0
    ent = summary[summary["metric"] == "model_entropy"].iloc[0]
    assert ent["mean"] == pytest.approx(math.log(2) / 3)


def test_bootstrap_ci_of_a_constant_is_not_a_point_and_is_seeded():
    # every resample of a constant is the constant: a zero-width interval would claim
    # certainty; an unbounded measure gets none, a share the exact bound of 4 of 10 items
    ci = mean_ci([0.4] * 10, n_boot=200)
    assert ci.mean == pytest.approx(0.4) and np.isnan(ci.low) and np.isnan(ci.high)
    assert "same value" in ci.note
    share = mean_ci([0.4] * 10, n_boot=200, bounded=True)
    assert (share.low, share.high) == pytest.approx(
        (beta.ppf(0.025, 4, 7), beta.ppf(0.975, 5, 6)))
    values = np.random.default_rng(3).random(50)
    assert mean_ci(values, seed=5) == mean_ci(values, seed=5)


def test_bootstrap_ignores_nan_and_reports_empty():
    assert mean_ci([1.0, np.nan, 3.0], n_boot=100).mean == pytest.approx(2.0)
    assert mean_ci([np.nan]).n == 0


def test_paired_difference_is_second_minus_first():
    diff = paired_difference_ci([0.1, 0.2, 0.3], [0.3, 0.5, 0.6], n_boot=300)
    assert diff.mean == pytest.approx((0.2 + 0.3 + 0.3) / 3)


def test_wilcoxon_exact_p_by_hand():
    # differences 1..5 and -6: ranks of negatives sum to 6; subsets of {1..6} with rank sum <= 6
    # number 14 (empty, 6 singletons, 6 pairs, {1,2,3}); two-sided exact p = 2 * 14 / 64
    a = np.zeros(6)
    b = np.array([1, 2, 3, 4, 5, -6], dtype=float)
    w, p = wilcoxon_paired(a, b)
    assert w == pytest.approx(6.0)
    assert p == pytest.approx(2 * 14 / 64)


def test_wilcoxon_all_equal_is_nan_not_an_error():
    w, p = wilcoxon_paired([0.1, 0.2], [0.1, 0.2])
    assert math.isnan(w) and math.isnan(p)


def test_compare_pair_pairs_by_item_id_not_row_order():
    d = np.array([1, 2, 3, 4, 5, -6], dtype=float) / 100
    base = np.array([0.30, 0.10, 0.50, 0.20, 0.40, 0.60])
    ids = np.arange(6)
    pre = pd.DataFrame({"model": "base", "item_id": ids, "js:US": base, "model_entropy": 1.0})
    order = [5, 3, 0, 4, 1, 2]  # the aligned rows in another order
    ali = pd.DataFrame({"model": "chat", "item_id": ids[order], "js:US": (base + d)[order],
                        "model_entropy": 0.5})
    result = compare_pair(pd.concat([pre, ali], ignore_index=True), "base", "chat", n_boot=500)
    js = result[result["metric"] == "js"].iloc[0]
    assert js["group"] == "US" and js["n_items"] == 6
    assert js["mean_diff"] == pytest.approx(d.mean())
    assert js["wilcoxon_w"] == pytest.approx(6.0)
    assert js["p_value"] == pytest.approx(2 * 14 / 64)
    ent = result[result["metric"] == "model_entropy"].iloc[0]
    assert ent["mean_diff"] == pytest.approx(-0.5)
    # the same difference on every item: the bootstrap collapses, so no interval is shown
    assert np.isnan(ent["diff_ci_low"]) and np.isnan(ent["diff_ci_high"]) and ent["ci_note"]


def test_compare_pair_uses_only_items_both_answered():
    pre = pd.DataFrame({"model": "base", "item_id": [0, 1, 2], "js:US": [0.1, 0.2, 0.3],
                        "model_entropy": [1.0, 1.0, 1.0]})
    ali = pd.DataFrame({"model": "chat", "item_id": [1, 2, 3], "js:US": [0.4, 0.6, 0.9],
                        "model_entropy": [1.0, 1.0, 1.0]})
    result = compare_pair(pd.concat([pre, ali]), "base", "chat", n_boot=100)
    js = result[result["metric"] == "js"].iloc[0]
    assert js["n_items"] == 2
    assert js["mean_pretrained"] == pytest.approx(0.25)
    assert js["mean_aligned"] == pytest.approx(0.5)


def test_item_table_vectorised_values_equal_item_by_item():
    rng = np.random.default_rng(4)
    items = []
    for item_id in range(12):
        k = 2 + item_id % 4
        human = {"US": rng.dirichlet([1] * k)}
        if item_id % 3:
            human["Japan"] = rng.dirichlet([1] * k)
        for model in ("a", "b"):
            items.append(_item(model, item_id, rng.dirichlet([1] * k), human))
    table = item_table(items, n_shuffles=7, seed=3)
    for item, (_, row) in zip(items, table.iterrows(), strict=True):
        perms = permutations(len(item.probs), 7, item_rng(3, item.item_id))
        for g in ("US", "Japan"):
            if g not in item.human:
                assert np.isnan(row[f"js:{g}"])
                continue
            assert row[f"js:{g}"] == pytest.approx(js_distance(item.probs, item.human[g]))
            assert row[f"js_shuffled:{g}"] == pytest.approx(
                shuffled_js_distance(item.probs, item.human[g], perms))
        assert row["model_entropy"] == pytest.approx(entropy_nats(item.probs))


def test_entropy_normalises_shares_that_do_not_sum_to_one():
    # GlobalQA human shares are not renormalised when loaded, so [0.4, 0.4] must read as
    # an even two-way split
    assert entropy_nats([0.4, 0.4]) == pytest.approx(math.log(2))
    assert entropy_nats([2.0, 1.0, 1.0]) == pytest.approx(1.5 * math.log(2))
    assert entropy_nats(np.array([[0.4, 0.4], [0.3, 0.0]])) == pytest.approx(
        [math.log(2), 0.0])


def test_js_distance_of_distributions_a_rounding_step_apart_is_zero_not_nan() -> None:
    # scipy's jensenshannon gives NaN here (a divergence a hair below 0 under the root)
    pairs = [([0.3, 0.7], [0.1 + 0.2, 0.7]), ([0.2, 0.3, 0.5], [0.2, 0.1 + 0.2, 0.5]),
             ([1 / 3] * 3, [0.3333333333333333, 0.3333333333333333, 0.33333333333333337])]
    for p, q in pairs:
        assert js_distance(p, q) == pytest.approx(0.0, abs=1e-7)
    batch = js_distance(np.array([p for p, _ in pairs[1:]]), np.array([q for _, q in pairs[1:]]))
    assert np.all(np.isfinite(batch))


def test_js_distance_equals_scipys_where_scipys_is_defined() -> None:
    from scipy.spatial.distance import jensenshannon

    rng = np.random.default_rng(4)
    p, q = rng.dirichlet(np.ones(5), size=50), rng.dirichlet(np.ones(5), size=50)
    assert js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2, axis=-1), abs=1e-12)
    assert js_distance([1, 0], [0, 1]) == pytest.approx(1.0)
