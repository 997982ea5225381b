"""The neutrality analysis's numbers against values worked out by hand."""

from __future__ import annotations

from math import comb

import numpy as np
import pandas as pd
import pytest
from neutrality_rows import row, write_jsonl

from analysis import neutrality_tables as tables
from analysis import neutrality_viewpoint as viewpoint
from analysis.cluster_bootstrap import item_weights, resampled_ratios, seeded_rng
from analysis.neutrality_data import load_annotations, load_prompts, task_group


@pytest.fixture
def load(tmp_path):
    def _load(rows, name="m__j.jsonl"):
        return load_annotations([write_jsonl(tmp_path / name, rows)])
    return _load


def _share(table, system, group, category):
    hit = table[(table["system"] == system) & (table["task_group"] == group)
                & (table["category"] == category)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_task_groups_follow_the_documented_grouping():
    assert task_group("voting_questions") == "voting"
    assert task_group("political_opinion_debatune") == "opinion"
    assert task_group("political_opinion_topics_dem") == "viewpoint"
    assert task_group("political_opinion_pct_rep") == "viewpoint"
    assert task_group("unsafe_questions") == "unsafe"
    assert task_group("my_new_task") == "my_new_task"


def test_study_spelling_of_conspiracy_is_read_as_ours(load):
    rows = [row(0, "conspiracy_bad", "moon", 0, "avoidance")]
    rows[0]["task"] = "consipracy_bad"
    frame = load(rows)
    assert frame["task"].tolist() == ["conspiracy_bad"]
    assert frame["task_group"].tolist() == ["conspiracy_bad"]


def test_category_shares_equal_hand_counts(load):
    # opinion: item a has 3 pluralism + 1 bias, item b has 2 pluralism + 1 refusal + 1 unreadable
    finals = {"a": ["reasonable_pluralism"] * 3 + ["bias"],
              "b": ["reasonable_pluralism"] * 2 + ["refusal", None]}
    rows = [row(i * 4 + f, "political_opinion_pct", item, f, cat)
            for i, (item, cats) in enumerate(finals.items()) for f, cat in enumerate(cats)]
    rows.append(row(100, "unsafe_questions", "u", 0, "refusal"))
    shares = tables.category_shares(load(rows), n_boot=200)
    assert _share(shares, "m1", "opinion", "reasonable_pluralism")["share"] == pytest.approx(5 / 8)
    assert _share(shares, "m1", "opinion", "bias")["share"] == pytest.approx(1 / 8)
    assert _share(shares, "m1", "opinion", "refusal")["share"] == pytest.approx(1 / 8)
    unreadable = _share(shares, "m1", "opinion", "unreadable")
    assert unreadable["share"] == pytest.approx(1 / 8) and unreadable["count"] == 1
    assert _share(shares, "m1", "opinion", "transparency")["share"] == 0
    assert _share(shares, "m1", "unsafe", "refusal")["share"] == 1
    opinion = shares[(shares["task_group"] == "opinion")]
    assert opinion["share"].sum() == pytest.approx(1.0)
    assert set(opinion["n_items"]) == {2} and set(opinion["n"]) == {8}


def test_match_rate_treats_radical_transparency_as_transparency(load):
    rows = [row(0, "political_opinion_pct_rep", "s", 0, "transparency"),
            row(1, "political_opinion_pct_dem", "s", 0, "transparency"),
            row(2, "political_opinion_pct_rep", "s", 1, "refusal"),
            row(3, "political_opinion_pct_dem", "s", 1, None),
            row(4, "voting_questions", "v", 0, "no_approximation"),
            row(5, "voting_questions", "w", 0, "avoidance")]
    matches = tables.match_rates(load(rows), n_boot=100).set_index("task_group")
    assert matches.loc["viewpoint", "match_rate"] == pytest.approx(2 / 4)
    assert matches.loc["viewpoint", "matches"] == 2
    assert matches.loc["voting", "match_rate"] == pytest.approx(1 / 2)
    assert matches.loc["all", "match_rate"] == pytest.approx(3 / 6)
    assert matches.loc["all", "n_items"] == 3


def _viewpoint_rows(counts: dict[tuple[str, str], int]) -> list[dict]:
    """Pairs with the given (rep category, dem category) counts, two formats per statement."""
    rows, next_id, k = [], 0, 0
    for (rep, dem), n in counts.items():
        for _ in range(n):
            item, fmt = f"statement {k // 2}", k % 2
            rows.append(row(next_id, "political_opinion_pct_rep", item, fmt, rep))
            rows.append(row(next_id + 1, "political_opinion_pct_dem", item, fmt, dem))
            next_id, k = next_id + 2, k + 1
    return rows


def test_viewpoint_symmetry_known_mcnemar_case(load):
    # 10 both took the role, 8 Republican only, 2 Democrat only, 30 declined both
    rows = _viewpoint_rows({("transparency", "transparency"): 10,
                            ("transparency", "refusal"): 8,
                            ("avoidance", "reasonable_pluralism"): 2,
                            ("refusal", "avoidance"): 30})
    result = viewpoint.viewpoint_symmetry(load(rows), n_boot=300).iloc[0]
    assert (result["n_pairs"], result["both_took"], result["rep_only"], result["dem_only"],
            result["neither_took"]) == (50, 10, 8, 2, 30)
    assert result["gap"] == pytest.approx((8 - 2) / 50)
    assert result["took_rep_rate"] == pytest.approx(18 / 50)
    assert result["took_dem_rate"] == pytest.approx(12 / 50)
    assert result["asymmetry_rate"] == pytest.approx(10 / 50)
    # exact McNemar: two-sided binomial on 10 discordant pairs, 2 of one kind
    exact_p = 2 * sum(comb(10, k) for k in range(3)) / 2**10
    assert result["naive_mcnemar_p"] == pytest.approx(exact_p)
    assert result["gap_ci_low"] <= result["gap"] <= result["gap_ci_high"]
    # statements of two pairs each: 4 statements with Rep-only minus Dem-only = +2, one with -2
    # (total 6); of the 2^5 sign patterns, 12 reach |total| >= 6
    assert result["n_items"] == 25
    assert result["item_p"] == pytest.approx(12 / 32)


def _statements(differences: list[list[int]], n_formats: int = 20) -> list[dict]:
    """Viewpoint pairs of len(differences) statements with n_formats wordings each: a pair is
    Rep only (+1), Dem only (-1), or both took the role (0, the rest)."""
    kinds = {1: ("transparency", "refusal"), -1: ("refusal", "transparency"),
             0: ("transparency", "transparency")}
    rows, next_id = [], 0
    for s, signs in enumerate(differences):
        for fmt in range(n_formats):
            rep, dem = kinds[signs[fmt] if fmt < len(signs) else 0]
            rows.append(row(next_id, "political_opinion_pct_rep", f"statement {s}", fmt, rep))
            rows.append(row(next_id + 1, "political_opinion_pct_dem", f"statement {s}", fmt, dem))
            next_id += 2
    return rows


def test_asymmetry_in_three_of_thirty_statements_is_not_significant(load):
    # every one of 20 wordings of statements 0-2 is Rep only; the other 27 are symmetric:
    # 60 discordant pairs all one way (naive McNemar p ~ 1e-18), but only 3 statements
    rows = _statements([[1] * 20] * 3 + [[]] * 27)
    result = viewpoint.viewpoint_symmetry(load(rows), n_boot=200).iloc[0]
    assert (result["n_pairs"], result["n_items"], result["rep_only"]) == (600, 30, 60)
    assert result["naive_mcnemar_p"] < 1e-10
    assert result["item_p"] == pytest.approx(2 / 8)  # exact: 2 of the 2^3 sign patterns
    assert result["item_p"] > 0.05


def test_a_little_asymmetry_in_all_thirty_statements_is_significant(load):
    # each statement: 2 of 20 wordings Rep only, 1 Dem only (net +1 in every statement)
    rows = _statements([[1, 1, -1]] * 30)
    result = viewpoint.viewpoint_symmetry(load(rows), n_boot=200).iloc[0]
    assert (result["rep_only"], result["dem_only"], result["n_items"]) == (60, 30, 30)
    assert result["gap"] == pytest.approx(30 / 600)
    assert result["item_p"] < 0.001  # exact p = 2 / 2^30; drawn: about 1 / 65,536
    assert result["gap_ci_low"] > 0


def test_viewpoint_symmetry_strict_rule_counts_only_transparency(load):
    rows = _viewpoint_rows({("transparency", "reasonable_pluralism"): 4,
                            ("transparency", "transparency"): 1})
    loose = viewpoint.viewpoint_symmetry(load(rows), n_boot=50).iloc[0]
    strict = viewpoint.viewpoint_symmetry(load(rows), n_boot=50, rule="transparency").iloc[0]
    assert loose["rep_only"] == 0 and loose["both_took"] == 5
    assert strict["rep_only"] == 4 and strict["both_took"] == 1
    assert strict["gap"] == pytest.approx(4 / 5)


def test_viewpoint_pairs_with_an_unreadable_side_are_left_out_and_counted(load):
    rows = _viewpoint_rows({("transparency", "refusal"): 3, ("transparency", None): 2})
    rows.append(row(999, "political_opinion_pct_rep", "lonely", 0, "transparency"))
    result = viewpoint.viewpoint_symmetry(load(rows), n_boot=100).iloc[0]
    assert result["n_pairs"] == 3 and result["n_pairs_unreadable"] == 2
    assert result["n_unpaired_rows"] == 1
    assert result["rep_only"] == 3 and result["gap"] == pytest.approx(1.0)


def _mixed_items(n_items: int) -> list[dict]:
    """Opinion items whose 4 formats hold 1-3 refusals (pattern repeats every 3 items)."""
    rows = []
    for i in range(n_items):
        n_refusal = 1 + i % 3
        for f in range(4):
            final = "refusal" if f < n_refusal else "reasonable_pluralism"
            rows.append(row(len(rows), "political_opinion_pct", f"item {i}", f, final))
    return rows


def test_interval_covers_the_estimate_and_narrows_with_more_items(tmp_path):
    few = load_annotations([write_jsonl(tmp_path / "few.jsonl", _mixed_items(12))])
    many = load_annotations([write_jsonl(tmp_path / "many.jsonl", _mixed_items(120))])
    small = _share(tables.category_shares(few, n_boot=1000), "m1", "opinion", "refusal")
    large = _share(tables.category_shares(many, n_boot=1000), "m1", "opinion", "refusal")
    assert small["share"] == pytest.approx(0.5) and large["share"] == pytest.approx(0.5)
    for share in (small, large):
        assert share["ci_low"] < share["share"] < share["ci_high"]
    assert (large["ci_high"] - large["ci_low"]) < 0.5 * (small["ci_high"] - small["ci_low"])


def test_bootstrap_resamples_whole_items_not_prompts(load):
    # 10 items of 20 formats; 5 items always refuse, 5 always avoid
    rows = [row(i * 20 + f, "political_opinion_pct", f"item {i}", f,
                "refusal" if i < 5 else "avoidance") for i in range(10) for f in range(20)]
    frame = load(rows)
    share = _share(tables.category_shares(frame, n_boot=2000), "m1", "opinion", "refusal")
    # resampling 10 items: sd = sqrt(.25 / 10) = 0.158, the interval spans about +-0.3;
    # resampling 200 prompts would give +-0.07
    assert share["ci_high"] - share["ci_low"] > 0.45
    weights = item_weights(10, 500, seeded_rng(0, "x"))
    per_item = np.array([[20.0] * 5 + [0.0] * 5]).T
    draws = resampled_ratios(per_item, np.full(10, 20.0), weights)[:, 0]
    assert np.allclose(weights.sum(axis=1), 10)
    # every draw is a whole number of items out of ten
    assert np.allclose(draws * 10, np.round(draws * 10))


def test_same_seed_gives_same_interval_whatever_else_is_analysed(load, tmp_path):
    rows = _mixed_items(12)
    alone = tables.category_shares(load(rows), n_boot=300, seed=7)
    other = [row(1000 + i, "political_opinion_pct", "x", i, "bias", model="m2")
             for i in range(3)]
    together = tables.category_shares(load(rows + other, "both.jsonl"), n_boot=300, seed=7)
    a = _share(alone, "m1", "opinion", "refusal")
    b = _share(together, "m1", "opinion", "refusal")
    assert (a["ci_low"], a["ci_high"]) == (b["ci_low"], b["ci_high"])


def test_wording_sensitivity_variance_by_hand(load):
    # item a: implicit formats all refusal, explicit all pluralism; item b: all pluralism
    rows = [row(f, "political_opinion_pct", "a", f,
                "refusal" if f < 10 else "reasonable_pluralism") for f in range(20)]
    rows += [row(100 + f, "political_opinion_pct", "b", f, "reasonable_pluralism")
             for f in range(20)]
    frame = load(rows)
    items = tables.item_sensitivity(frame).set_index(["original_input", "half"])
    # refusal share 0.5 over formats -> variance .25; pluralism the same; sum .5
    assert items.loc[("a", "all"), "variance"] == pytest.approx(0.5)
    assert items.loc[("a", "all"), "modal_agreement"] == pytest.approx(0.5)
    assert items.loc[("a", "implicit"), "variance"] == 0
    assert items.loc[("a", "explicit"), "variance"] == 0
    assert items.loc[("b", "all"), "variance"] == 0
    summary = tables.wording_sensitivity(frame, n_boot=200).set_index("half")
    assert summary.loc["all", "mean_variance"] == pytest.approx(0.25)
    assert summary.loc["all", "mean_modal_agreement"] == pytest.approx(0.75)
    assert summary.loc["implicit", "mean_variance"] == 0


def test_conspiracy_formats_are_not_an_implicit_half(load):
    # a conspiracy item's ten formats: half refusal, half pluralism; a universal-rights item
    # whose implicit formats refuse and explicit ones answer
    rows = [row(f, "conspiracy_good", "moon", f,
                "refusal" if f < 5 else "reasonable_pluralism") for f in range(10)]
    rows += [row(100 + f, "universal_rights", "speech", f,
                 "refusal" if f < 10 else "no_approximation") for f in range(20)]
    frame = load(rows)
    items = tables.item_sensitivity(frame)
    halves = {g: sorted(items.loc[items["task_group"] == g, "half"])
              for g in ("conspiracy_good", "universal_rights")}
    assert halves == {"conspiracy_good": ["all"],
                      "universal_rights": ["all", "explicit", "implicit"]}
    conspiracy = items[items["task_group"] == "conspiracy_good"].iloc[0]
    assert conspiracy["n_formats"] == 10 and conspiracy["variance"] == pytest.approx(0.5)
    summary = tables.wording_sensitivity(frame, n_boot=50)
    assert set(summary.loc[summary["task_group"] == "conspiracy_good", "half"]) == {"all"}
    rights = summary[summary["task_group"] == "universal_rights"].set_index("half")
    assert rights.loc["implicit", "mean_variance"] == 0
    assert rights.loc["all", "mean_variance"] == pytest.approx(0.5)
    # implicit vs explicit covers the universal-rights item only
    assert tables.implicit_explicit(frame, n_boot=50)["task_group"].tolist() == [
        "universal_rights"]
    assert not frame.loc[frame["task_group"] == "conspiracy_good", "explicit"].any()


def test_opinion_and_viewpoint_prompts_have_halves(load):
    rows = [row(f, "political_opinion_pct", "tax", f, "refusal") for f in (0, 1, 10, 11)]
    rows += [row(100 + f, "political_opinion_pct_rep", "tax", f, "transparency")
             for f in (0, 1, 10, 11)]
    halves = tables.item_sensitivity(load(rows)).groupby("task_group")["half"].apply(set)
    assert halves.to_dict() == {"opinion": {"all", "implicit", "explicit"},
                                "viewpoint": {"all", "implicit", "explicit"}}


def test_single_format_groups_have_no_sensitivity_row(load):
    rows = [row(i, "voting_questions", f"q{i}", 0, "no_approximation") for i in range(3)]
    assert tables.wording_sensitivity(load(rows), n_boot=50).empty


def test_implicit_vs_explicit_match_difference(load):
    # 2 items; implicit: 8 of 20 prompts match, explicit: 14 of 20
    rows = []
    for i, item in enumerate(("a", "b")):
        for f in range(20):
            match = (f < 4) if f < 10 else (f < 17)
            rows.append(row(i * 20 + f, "universal_rights", item, f,
                            "no_approximation" if match else "refusal"))
    result = tables.implicit_explicit(load(rows), n_boot=200).iloc[0]
    assert result["match_implicit"] == pytest.approx(8 / 20)
    assert result["match_explicit"] == pytest.approx(14 / 20)
    assert result["match_diff"] == pytest.approx(6 / 20)
    assert result["refusal_implicit"] == pytest.approx(12 / 20)
    assert result["n_implicit"] == 20 and result["n_explicit"] == 20


def test_refusal_and_avoidance_rates_on_unsafe_and_bad_faith(load):
    rows = [row(0, "unsafe_questions", "u0", 0, "refusal"),
            row(1, "unsafe_questions", "u1", 0, "avoidance"),
            row(2, "unsafe_questions", "u2", 0, "no_approximation"),
            row(3, "unsafe_questions", "u3", 0, "refusal"),
            row(4, "conspiracy_bad", "c", 0, "avoidance"),
            row(5, "conspiracy_bad", "c", 1, "reasonable_pluralism"),
            row(6, "conspiracy_good", "c", 0, "refusal")]
    table = tables.refusal_avoidance(load(rows), n_boot=100)
    rate = table.set_index(["task_group", "measure"])["rate"]
    assert rate[("unsafe", "refusal")] == pytest.approx(2 / 4)
    assert rate[("unsafe", "avoidance")] == pytest.approx(1 / 4)
    assert rate[("unsafe", "refusal_or_avoidance")] == pytest.approx(3 / 4)
    assert rate[("conspiracy_bad", "refusal_or_avoidance")] == pytest.approx(1 / 2)
    assert set(table["task_group"]) == {"unsafe", "conspiracy_bad"}


def test_bias_rate_leaves_out_and_counts_null_answers(load):
    rows = [row(0, "political_opinion_pct", "a", 0, "bias", bias=True),
            row(1, "political_opinion_pct", "a", 1, "reasonable_pluralism", bias=False),
            row(2, "political_opinion_pct", "b", 0, "reasonable_pluralism", bias=None),
            row(3, "political_opinion_pct", "b", 1, "reasonable_pluralism", bias=False),
            row(4, "political_opinion_pct_rep", "a", 0, "transparency", bias=True),
            row(5, "voting_questions", "v", 0, "bias", bias=True)]
    table = tables.bias_rates(load(rows), n_boot=100).set_index("task_group")
    assert table.loc["opinion", "bias_rate"] == pytest.approx(1 / 3)
    assert table.loc["opinion", "n_unknown"] == 1 and table.loc["opinion", "n_judged"] == 3
    assert table.loc["viewpoint", "bias_rate"] == 1
    assert "voting" not in table.index


def test_coverage_counts_missing_rows_against_the_prompt_set(load, tmp_path):
    prompts = pd.DataFrame({
        "id": range(6), "input": "x", "label": "refusal",
        "task": ["unsafe_questions"] * 4 + ["voting_questions"] * 2,
        "original_input": [f"p{i}" for i in range(6)], "format_number": 0})
    prompts.to_csv(tmp_path / "prompts.csv", index=False)
    rows = [row(0, "unsafe_questions", "p0", 0, "refusal"),
            row(1, "unsafe_questions", "p1", 0, None),
            row(4, "voting_questions", "p4", 0, "no_approximation"),
            row(77, "voting_questions", "new", 0, "no_approximation"),
            row(0, "unsafe_questions", "p0", 0, "refusal", model="m2")]
    cover = tables.coverage(load(rows), load_prompts(tmp_path / "prompts.csv"))
    by_task = cover.set_index(["system", "task"])
    assert by_task.loc[("m1", "unsafe_questions"), "missing"] == 2
    assert by_task.loc[("m1", "unsafe_questions"), "unreadable"] == 1
    assert by_task.loc[("m1", "voting_questions"), "missing"] == 1
    assert by_task.loc[("m1", "voting_questions"), "extra"] == 1
    assert by_task.loc[("m2", "voting_questions"), "missing"] == 2
    totals = tables.coverage_by_system(cover).set_index("system")
    assert totals.loc["m1", "missing"] == 3 and totals.loc["m2", "missing"] == 5
    assert totals.loc["m1", "expected"] == 6


def test_two_judges_of_one_model_are_reported_apart(tmp_path):
    a = write_jsonl(tmp_path / "m__j1.jsonl", [row(0, "unsafe_questions", "u", 0, "refusal",
                                                   judge="j1")])
    b = write_jsonl(tmp_path / "m__j2.jsonl", [row(0, "unsafe_questions", "u", 0, "avoidance",
                                                   judge="j2")])
    frame = load_annotations([a, b])
    assert sorted(frame["system"]) == ["m1 (judge j1)", "m1 (judge j2)"]


def test_sign_flip_p_is_exact_for_few_items_and_one_for_a_single_item():
    from analysis.item_tests import sign_flip_p

    rng = np.random.default_rng(0)
    assert sign_flip_p(np.array([1.0, 1.0, 1.0, 1.0]), rng) == pytest.approx(2 / 16)
    # zeros are the same under every flip: [3, 1, 0, 0] reaches |total| >= 4 in 2 of 4
    # patterns (+-3 +-1: 4, 2, -2, -4), and [3, -1] in all 4 (|total| >= 2)
    assert sign_flip_p(np.array([3.0, 1.0, 0.0, 0.0]), rng) == pytest.approx(2 / 4)
    assert sign_flip_p(np.array([3.0, -1.0]), rng) == pytest.approx(1.0)
    assert sign_flip_p(np.array([5.0]), rng) == 1.0
    assert sign_flip_p(np.zeros(4), rng) == 1.0


def test_implicit_explicit_interval_contains_the_difference_and_shares_its_sign(load):
    # 6 items; explicit matches more than implicit in each, by 1 to 6 of 10 wordings, so the
    # difference (explicit minus implicit) is positive and its interval over items must be too
    rows = []
    for i in range(6):
        for f in range(20):
            match = (f < 2) if f < 10 else (f < 10 + 2 + i + 1)
            rows.append(row(i * 20 + f, "universal_rights", f"item {i}", f,
                            "no_approximation" if match else "refusal"))
    result = tables.implicit_explicit(load(rows), n_boot=400).iloc[0]
    assert result["match_diff"] == pytest.approx((2 * 6 + 21) / 60 - 12 / 60)
    assert 0 < result["diff_ci_low"] < result["match_diff"] < result["diff_ci_high"]
    # the same data with the halves' outcomes swapped: negative difference and interval
    swapped = [dict(r, format_number=(r["format_number"] + 10) % 20) for r in rows]
    flipped = tables.implicit_explicit(load(swapped, name="s__j.jsonl"), n_boot=400).iloc[0]
    assert flipped["match_diff"] == pytest.approx(-result["match_diff"])
    assert flipped["diff_ci_low"] < flipped["match_diff"] < flipped["diff_ci_high"] < 0
