"""Human MPI distributions from synthetic response files whose shares are known by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import UserError
from pluralism.human_mpi import (
    HumanMPI,
    distributions_from_responses,
    human_mpi_distributions,
    keying_advice,
    keying_correlation,
    read_mpi_keying,
    read_mpi_keys,
)

N = 120
KEYS = [1] * N
KEYS[1] = -1  # item 1 is minus-keyed


def write_responses(path: Path, sep: str = ",") -> Path:
    """Four people; three leading non-item columns (text included) that must be ignored.

    item 0 (key +1): 5, 5, 4, 0        -> 3 answers: A 2/3, B 1/3
    item 1 (key -1): 1, 2, 2, 3        -> recoded 5, 4, 4, 3: A 1/4, B 1/2, C 1/4
    item 2:          0, 0, empty, 0    -> nobody answered
    item 3:          2, 1, 1, 1        -> D 1/4, E 3/4
    the rest:        3                 -> C 1
    """
    columns = {0: ["5", "5", "4", "0"], 1: ["1", "2", "2", "3"], 2: ["0", "0", "", "0"],
               3: ["2", "1", "1", "1"]}
    header = ["case", "country", "age"] + [f"I{j + 1}" for j in range(N)]
    lines = [sep.join(header)]
    for person in range(4):
        answers = [columns.get(j, ["3"] * 4)[person] for j in range(N)]
        lines.append(sep.join([str(person), "New Zealand", "33"] + answers))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_shares_by_letter_with_zeros_left_out_and_minus_keyed_recoded(tmp_path):
    human = human_mpi_distributions(write_responses(tmp_path / "ipip.csv"), KEYS)
    assert human.respondents == 4
    np.testing.assert_allclose(human.probs[0], [2 / 3, 1 / 3, 0, 0, 0])
    np.testing.assert_allclose(human.probs[1], [1 / 4, 1 / 2, 1 / 4, 0, 0])
    np.testing.assert_allclose(human.probs[3], [0, 0, 0, 1 / 4, 3 / 4])
    np.testing.assert_allclose(human.probs[50], [0, 0, 1, 0, 0])
    assert human.answered[:4].tolist() == [3, 4, 0, 4]


def test_unanswered_item_is_nan_not_zero(tmp_path):
    human = human_mpi_distributions(write_responses(tmp_path / "ipip.csv"), KEYS)
    assert np.isnan(human.probs[2]).all()


def test_no_recode_keeps_minus_keyed_answers_as_written(tmp_path):
    human = human_mpi_distributions(write_responses(tmp_path / "ipip.csv"), KEYS,
                                    recode_minus_keyed=False)
    # 1, 2, 2, 3 as written: C 1/4, D 1/2, E 1/4
    np.testing.assert_allclose(human.probs[1], [0, 0, 1 / 4, 1 / 2, 1 / 4])
    np.testing.assert_allclose(human.probs[0], [2 / 3, 1 / 3, 0, 0, 0])  # plus-keyed unchanged


def test_tab_separated_file_reads_the_same(tmp_path):
    a = human_mpi_distributions(write_responses(tmp_path / "a.csv"), KEYS)
    b = human_mpi_distributions(write_responses(tmp_path / "b.tsv", sep="\t"), KEYS)
    np.testing.assert_array_equal(np.nan_to_num(a.probs), np.nan_to_num(b.probs))


def test_repeated_counts_keep_their_own_letters():
    # the study's set of value counts would merge the two answers with 2 votes each
    values = np.array([[5], [5], [1], [1], [3]])
    probs, answered = distributions_from_responses(values, [1])
    np.testing.assert_allclose(probs[0], [0.4, 0, 0.2, 0, 0.4])
    assert answered.tolist() == [5]


def test_large_file_shape_is_vectorised():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 6, size=(20_000, N))
    probs, answered = distributions_from_responses(values, KEYS, recode_minus_keyed=False)
    expected_a = (values[:, 7] == 5).sum() / (values[:, 7] > 0).sum()
    assert probs[7, 0] == pytest.approx(expected_a)
    assert answered[7] == (values[:, 7] > 0).sum()


def test_value_out_of_range_is_a_user_error(tmp_path):
    path = write_responses(tmp_path / "ipip.csv")
    path.write_text(path.read_text().replace(",33,5,", ",33,7,", 1))
    with pytest.raises(UserError, match="1-5"):
        human_mpi_distributions(path, KEYS)


def test_too_few_columns_is_a_user_error(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(UserError, match="last 120"):
        human_mpi_distributions(path, KEYS)


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="--mpi-human"):
        human_mpi_distributions(tmp_path / "nope.csv", KEYS)


def test_mpi_keys_read_from_the_item_file(tmp_path):
    lines = ["label_raw\ttext\tlabel_ocean\tkey"]
    lines += [f"Facet{j}\tStatement {j}\tO\t{-1 if j % 3 == 0 else 1}" for j in range(N)]
    path = tmp_path / "mpi_questions.tsv"
    path.write_text("\n".join(lines))  # no final newline, like the study's file
    keys = read_mpi_keys(path)
    assert len(keys) == N and keys[:4] == [-1, 1, 1, -1]


def test_mpi_key_file_with_wrong_item_count_is_a_user_error(tmp_path):
    path = tmp_path / "mpi_questions.tsv"
    path.write_text("label_raw\ttext\tlabel_ocean\tkey\nA\tB\tO\t1\n")
    with pytest.raises(UserError, match="120"):
        read_mpi_keys(path)


def trait_answers(pre_reversed: bool, people: int = 300) -> tuple[np.ndarray, list[int], list[str]]:
    """Answers driven by one trait per facet: plus items rise with it; minus items, as ticked,
    fall with it (a pre-reversed file stores 6 - answer for them)."""
    rng = np.random.default_rng(5)
    facets = [f"F{j // 4}" for j in range(N)]
    keys = [1 if j % 4 < 2 else -1 for j in range(N)]
    trait = rng.normal(size=(people, N // 4)).repeat(4, axis=1)
    sign = np.where(np.array(keys) == 1, 1.0, -1.0)
    answers = np.clip(np.rint(3 + 1.2 * sign * trait + rng.normal(size=(people, N)) * 0.7), 1, 5)
    if pre_reversed:
        answers = np.where(np.array(keys) == -1, 6 - answers, answers)
    return answers.astype(int), keys, facets


def test_keying_correlation_negative_for_raw_positive_for_pre_reversed():
    raw, keys, facets = trait_answers(pre_reversed=False)
    rev, _, _ = trait_answers(pre_reversed=True)
    assert keying_correlation(raw, keys, facets) < -0.5
    assert keying_correlation(rev, keys, facets) > 0.5


def test_keying_advice_warns_when_the_setting_does_not_fit_the_file(tmp_path):
    raw, keys, facets = trait_answers(pre_reversed=False)
    path = tmp_path / "raw.csv"
    pd.DataFrame(raw).to_csv(path, index=False)
    recoded = human_mpi_distributions(path, keys, recode_minus_keyed=True, facets=facets)
    advice = keying_advice(recoded)
    assert advice.startswith("WARNING") and "--no-recode-minus-keyed" in advice
    kept = human_mpi_distributions(path, keys, recode_minus_keyed=False, facets=facets)
    assert "fits the setting" in keying_advice(kept)


def test_keying_advice_cannot_tell_on_unrelated_answers():
    values = np.random.default_rng(0).integers(1, 6, size=(500, N))
    keys = [1 if j % 2 else -1 for j in range(N)]
    facets = [f"F{j // 4}" for j in range(N)]
    probs, answered = distributions_from_responses(values, keys)
    human = HumanMPI(probs, answered, 500, True, "x", keying_correlation(values, keys, facets))
    assert "too weak to tell" in keying_advice(human)


def test_study_item_file_keys_and_facets(mirror_dir):
    keys, facets = read_mpi_keying(mirror_dir / "pluralism" / "mpi_questions.tsv")
    assert len(keys) == 120 and keys.count(-1) == 55  # IPIP-NEO-120: 55 minus-keyed items
    assert len(set(facets)) == 30 and keys[8] == -1  # 30 facets of 4 items


def test_unanswered_cells_do_not_change_keying_correlation():
    raw, keys, facets = trait_answers(pre_reversed=False)
    before = keying_correlation(raw, keys, facets)
    holes = raw.copy()
    rng = np.random.default_rng(11)
    holes[rng.random(holes.shape) < 0.15] = 0  # 0 = not answered in the IPIP files
    # dropping the same answers by hand (NaN) is what "ignored" means
    by_hand = np.where(holes == 0, np.nan, raw.astype(float))
    assert keying_correlation(holes, keys, facets) == pytest.approx(
        keying_correlation(by_hand, keys, facets))
    assert keying_correlation(holes, keys, facets) == pytest.approx(before, abs=0.1)
    assert keying_correlation(holes, keys, facets) < -0.5
