"""Human MPI distributions of groups of respondents, from a synthetic response file whose
counts per group are known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import UserError
from pluralism.groups import parse_groups
from pluralism.human_groups import MIN_GROUP_RESPONDENTS, human_group_distributions

N_ITEMS = 120


def write_file(path: Path, people: list[tuple[int, int, str, dict[int, int]]]) -> Path:
    """CASE, SEX, AGE, COUNTRY, then the 120 items (answers given per item; 3 elsewhere,
    -1: an empty cell)."""
    lines = ["CASE,SEX,AGE,COUNTRY," + ",".join(f"I{k + 1}" for k in range(N_ITEMS))]
    for n, (sex, age, country, answers) in enumerate(people):
        cells = []
        for k in range(N_ITEMS):
            v = answers.get(k, 3)
            cells.append("" if v == -1 else str(v))
        lines.append(f"{n},{sex},{age},{country}," + ",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_group_distributions_count_each_groups_answers(tmp_path):
    people = []
    # 250 women aged 20: item 0 -> 150 answer 5, 100 answer 4; item 1 (minus-keyed) -> all 1
    people += [(2, 20, "USA", {0: 5, 1: 1})] * 150 + [(2, 20, "USA", {0: 4, 1: 1})] * 100
    # 220 men aged 40: item 0 -> 200 answer 2, 20 leave it out (0 and empty); item 1 -> 5
    people += [(1, 40, "UK", {0: 2, 1: 5})] * 200 + [(1, 40, "UK", {0: 0, 1: 5})] * 10
    people += [(1, 40, "UK", {0: -1, 1: 5})] * 10
    # 30 women aged 65: too few for a group of their own
    people += [(2, 65, "USA", {0: 3, 1: 3})] * 30
    path = write_file(tmp_path / "ipip.csv", people)
    keys = [1, -1] + [1] * (N_ITEMS - 2)
    groups = parse_groups("SEX=2;SEX=1&AGE=30-49;COUNTRY=USA")
    women, men, usa = human_group_distributions(path, groups, keys)
    assert (women.respondents, men.respondents, usa.respondents) == (280, 220, 280)
    # letters A..E = answers 5..1
    assert women.probs[0] == pytest.approx([150 / 280, 100 / 280, 30 / 280, 0, 0])
    assert women.answered[0] == 280
    assert men.probs[0] == pytest.approx([0, 0, 0, 1, 0]) and men.answered[0] == 200
    # minus-keyed item 1, recoded 1<->5 (the default, as the study)
    assert women.probs[1] == pytest.approx([250 / 280, 0, 30 / 280, 0, 0])
    assert men.probs[1] == pytest.approx([0, 0, 0, 0, 1])
    # as written
    women_raw, = human_group_distributions(path, groups[:1], keys, recode_minus_keyed=False)
    assert women_raw.probs[1] == pytest.approx([0, 0, 30 / 280, 0, 250 / 280])
    assert women_raw.probs[0] == pytest.approx(women.probs[0])  # plus-keyed: the same
    with pytest.raises(UserError, match=r"'SEX=2&AGE=60-99' has 30 respondents.*minimum of "
                                        f"{MIN_GROUP_RESPONDENTS}") as exc:
        human_group_distributions(path, parse_groups("SEX=2&AGE=60-99"), keys)
    assert "\n" not in str(exc.value)
    with pytest.raises(UserError, match="no column 'GENDER'"):
        human_group_distributions(path, parse_groups("GENDER=2"), keys)
    assert np.isnan(human_group_distributions(
        path, parse_groups("AGE=18-99"), keys)[0].probs).sum() == 0
