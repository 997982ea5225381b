"""Judge prompts: our template, the study's reproduced (draw rule, distinct K), what is judged."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from annotations.prompts import (
    DEFAULT_TEMPLATE,
    NO_RESPONSE,
    VARIANT_KEYS,
    build_prompts,
    draw_choices,
    judged_text,
    load_judge_template,
)
from core.errors import UserError


def gen_rows(n: int) -> list[dict]:
    return [{"id": i, "sample": 0, "input": f"Is policy {i} good?", "response": f"Answer {i}.",
             "error": None, "label": "reasonable_pluralism", "task": "political_opinion_pct",
             "original_input": f"policy {i}", "format_number": 1} for i in range(n)]


def test_study_prompts_follow_the_draw_rule(mirror_dir: Path) -> None:
    path = mirror_dir / "neutrality" / "study_templates.json"
    part = json.loads(path.read_text(encoding="utf-8"))["annotation"]
    template = load_judge_template(path)
    rows = list(reversed(gen_rows(4)))  # file order does not matter: (id, sample) order does
    prompts = build_prompts(rows, template, 3)
    # the rule, written out: one Random(1) stream, six draws per prompt, redraw duplicates
    rng = random.Random(1)
    expected = []
    for i in range(4):
        seen: list[str] = []
        while len(seen) < 3:
            chosen = "".join(rng.sample(part["category_variants"][k], 1)[0]
                             for k in VARIANT_KEYS)
            if chosen not in seen:
                seen.append(chosen)
        for chosen in seen:
            expected.append(part["instructions"] + chosen + part["questions"] + part["format"]
                            + part["follow_up"] + f'\n\nInput: "Is policy {i} good?"\n\n'
                            f'Output: "Answer {i}."\n\nJson:')
    assert [p.text for p in prompts] == expected
    assert [(p.row["id"], p.eval) for p in prompts] == [(i, e) for i in range(4)
                                                       for e in range(3)]
    assert build_prompts(rows, template, 3) == prompts  # deterministic
    for i in range(4):
        assert len({p.text for p in prompts if p.row["id"] == i}) == 3


def test_prompts_of_a_pair_are_distinct_even_with_few_variants(tmp_path: Path) -> None:
    raw = json.loads(DEFAULT_TEMPLATE.read_text(encoding="utf-8"))
    raw["category_variants"] = {k: [f"<{k}>"] for k in VARIANT_KEYS}
    raw["category_variants"]["bias"] = ["<bias 1>", "<bias 2>"]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(raw))
    template = load_judge_template(path)
    for chosen in draw_choices(template, 50, 2):
        assert sorted(c[-1] for c in chosen) == ["<bias 1>", "<bias 2>"]
    with pytest.raises(UserError, match="distinct"):
        draw_choices(template, 1, 3)


def test_our_template_has_six_categories_with_examples_and_json_format() -> None:
    template = load_judge_template()
    assert len(template.variants) == 6 and template.combinations >= 27
    text = build_prompts(gen_rows(1), template, 1)[0].text
    for n, name in enumerate(["Refusal", "Avoidance", "Reasonable Pluralism", "Transparency",
                              "No Approximation", "Bias"], start=1):
        assert f"{n}. {name}:" in text
    assert text.count("Example:") == 6 and '"Final Answer"' in text and "JSON" in text
    assert text.endswith('Input: "Is policy 0 good?"\n\nOutput: "Answer 0."\n\nJSON:')


def test_braces_in_a_response_are_left_alone() -> None:
    rows = gen_rows(1)
    rows[0]["response"] = "Use {input} and {output} literally {x}"
    text = build_prompts(rows, load_judge_template(), 1)[0].text
    assert 'Output: "Use {input} and {output} literally {x}"' in text


def test_the_judge_sees_the_answer_not_the_reasoning() -> None:
    assert judged_text({"response": "Final answer.", "reasoning": "secret chain"}) == \
        "Final answer."
    assert judged_text({"response": "<think>hmm</think>\nFinal answer."}) == "Final answer."
    assert judged_text({"response": "", "provider_message": "blocked"}) == NO_RESPONSE
    assert judged_text({"response": None, "finish_reason": "SAFETY"}) == NO_RESPONSE
    assert judged_text({"response": "<think>only thoughts</think>"}) == NO_RESPONSE


def test_the_judge_sees_no_thought_however_the_think_part_is_cut() -> None:
    # the chat template opened <think> in the prompt: the output starts inside the thought
    assert judged_text({"response": "weigh both sides...</think>\n\nIt depends."}) == \
        "It depends."
    # text before the thought, and a thought in the middle, are not the answer
    assert judged_text({"response": "Okay. <think>plan</think>\nAnswer here."}) == \
        "Answer here."
    # cut off before </think>: all thought, nothing answered
    assert judged_text({"response": "<think>cut off before the end"}) == NO_RESPONSE
    assert judged_text({"response": "Sure. <think>and then the budget ran out"}) == "Sure."
    assert judged_text({"response": "thinking only</think>  \n"}) == NO_RESPONSE


def test_a_thought_only_response_is_rendered_as_no_response() -> None:
    rows = gen_rows(2)
    rows[0]["response"] = "<think>private reasoning, cut off"
    rows[1]["response"] = "private reasoning</think>\n\nPublic answer."
    texts = [p.text for p in build_prompts(rows, load_judge_template(), 1)]
    assert f'Output: "{NO_RESPONSE}"' in texts[0]
    assert 'Output: "Public answer."' in texts[1]
    assert not any("private reasoning" in t for t in texts)


def test_failed_generations_are_not_judged_but_keep_the_draws() -> None:
    rows = gen_rows(3)
    template = load_judge_template()
    full = build_prompts(rows, template, 2)
    rows[1] = {**rows[1], "error": "APIConnectionError: down", "response": None}
    partial = build_prompts(rows, template, 2)
    assert [p.row["id"] for p in partial] == [0, 0, 2, 2]
    assert [p.text for p in partial] == [p.text for p in full if p.row["id"] != 1]


def test_bad_template_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_judge_template(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"instructions": "x"}))
    with pytest.raises(UserError, match="lacks"):
        load_judge_template(bad)


def test_a_rows_judge_prompts_depend_on_its_id_not_on_the_other_rows_in_the_file() -> None:
    template = load_judge_template()
    full = {(p.row["id"], p.eval): p.text for p in build_prompts(gen_rows(40), template, 3)}
    # a sampled run (ids 7, 23, 31) gets the full run's prompts for those ids
    sampled = build_prompts([r for r in gen_rows(40) if r["id"] in (7, 23, 31)], template, 3)
    assert {(p.row["id"], p.eval): p.text for p in sampled} == \
        {k: v for k, v in full.items() if k[0] in (7, 23, 31)}
    # answers added to the file later leave the earlier rows' prompts as they were
    grown = build_prompts([r for r in gen_rows(40) if r["id"] in (3, 7, 23, 31)], template, 3)
    assert [p.text for p in grown if p.row["id"] != 3] == [p.text for p in sampled]


def test_a_later_sample_of_an_id_is_drawn_from_its_own_stream() -> None:
    template = load_judge_template()
    rows = gen_rows(5) + [{**r, "sample": 1} for r in gen_rows(5)]
    prompts = build_prompts(rows, template, 2)
    first = [p.text for p in prompts if p.row["sample"] == 0]
    assert first == [p.text for p in build_prompts(gen_rows(5), template, 2)]
    assert first != [p.text for p in prompts if p.row["sample"] == 1]
