"""Steerable pluralism, collection side: steering sentences from the data file, steered rows
beside the unsteered ones in one file, resume, and the shared-prefix tree of the scorer."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from backends.option_scores import LocalScorer, ScoreJob  # noqa: E402
from core.errors import UserError  # noqa: E402
from pluralism.groups import parse_groups  # noqa: E402
from pluralism.items import SurveyItem  # noqa: E402
from pluralism.prompts import item_prompts, letters_for, load_templates  # noqa: E402
from pluralism.steering import DEFAULT_STEERING, load_steering, steer_prompt  # noqa: E402
from tests.distribution_helpers import (  # noqa: E402
    GLOBALQA_ROWS,
    build_letter_model,
    tiny_registry,
    write_globalqa_csv,
)
from tests.script_entry import script_main  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_letter_model(tmp_path_factory.mktemp("letter-llama"))


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---- wording ------------------------------------------------------------------------------
def test_personas_and_country_sentences_come_from_the_data_file(tmp_path):
    data = json.loads(DEFAULT_STEERING.read_text())
    steering = load_steering()
    groups = parse_groups("SEX=2; AGE=18-29;COUNTRY=USA;SEX=2&AGE=18-29;COUNTRY=Japan;AGE=60")
    assert [g.name for g in groups] == ["SEX=2", "AGE=18-29", "COUNTRY=USA", "SEX=2&AGE=18-29",
                                        "COUNTRY=Japan", "AGE=60"]
    assert [steering.persona(g) for g in groups] == [
        "a woman", "a person aged 18 to 29", "a person from the USA", "a woman aged 18 to 29",
        "a person from Japan", "a person aged 60"]
    wording = data["group"]["wording"]["default"]
    assert steering.group(groups[0]).text == wording.format(persona="a woman")
    durmus = steering.country("Japan", "durmus")
    assert durmus.text == "How would someone from Japan answer this question?"
    assert steering.country("Japan").text == data["country"]["default"].format(country="Japan")
    # an edited file is read as given
    data["group"]["conditions"]["SEX=2"] = {"noun": "a female respondent"}
    edited = tmp_path / "steer.json"
    edited.write_text(json.dumps(data))
    assert load_steering(edited).persona(groups[3]) == "a female respondent aged 18 to 29"
    with pytest.raises(UserError, match="no persona wording for INCOME"):
        steering.persona(parse_groups("INCOME=3")[0])
    with pytest.raises(UserError, match="--steer-wording 'polite'.*known: default, durmus"):
        steering.country("Japan", "polite")
    for bad in ("SEX", "=2", "AGE=29-18", " ; "):
        with pytest.raises(UserError, match="--groups"):
            parse_groups(bad)


def test_a_steered_prompt_is_the_sentence_then_the_unsteered_prompt():
    template = load_templates().mpi
    item = SurveyItem("mpi", 3, "Keep my room tidy")
    plain = item_prompts(template, item, 2, 0)
    target = load_steering().group(parse_groups("AGE=18-29")[0])
    steered = [steer_prompt(p, target, "\n\n") for p in plain]
    assert [p.text for p in steered] == [target.text + "\n\n" + p.text for p in plain]
    assert "a person aged 18 to 29" in steered[0].text
    assert [p.drawn for p in steered] == [p.drawn for p in plain]
    assert steer_prompt(plain[0], None, "\n\n") is plain[0]


# ---- the scripts ---------------------------------------------------------------------------
def _mpi_argv(tiny_model: Path, data: Path, tmp_path: Path, *extra: str) -> list[str]:
    registry = tiny_registry(tmp_path / "registry.json", tiny_model)
    return ["--backend", "tiny-local", "--registry", str(registry), "--data_dir", str(data),
            "--save_dir", str(tmp_path / "mpi"), "--limit", "3", "--reps", "2",
            "--batch-size", "4", "--no-progress", *extra]


def test_steered_mpi_rows_sit_beside_the_unsteered_ones_and_resume_adds_only_what_is_missing(
        tiny_model, fetched_data, tmp_path, capsys):
    main = script_main("create_model_response_mpi")
    main(_mpi_argv(tiny_model, fetched_data, tmp_path))  # unsteered, as before
    out = tmp_path / "mpi" / "tiny-local.jsonl"
    requests = tmp_path / "mpi" / "requests" / "tiny-local.jsonl"
    unsteered = out.read_text()
    unsteered_requests = requests.read_text()
    steer = ["--steer", "group", "--groups", "SEX=2;AGE=18-29"]
    main(_mpi_argv(tiny_model, fetched_data, tmp_path, *steer, "--dry-run"))
    assert "to do: 12 of 18 forward passes" in capsys.readouterr().out  # 3 items x 2 x 2 groups
    main(_mpi_argv(tiny_model, fetched_data, tmp_path, *steer))
    # the unsteered rows were not touched; the steered ones were added after them
    assert out.read_text().startswith(unsteered)
    assert requests.read_text().startswith(unsteered_requests)
    rows = _rows(out)
    by_key = {(r["item_id"], r["steer_to"]): r for r in rows}
    assert set(by_key) == {(i, t) for i in range(3) for t in (None, "SEX=2", "AGE=18-29")}
    steering = load_steering()
    for (item_id, to), row in by_key.items():
        plain = by_key[(item_id, None)]
        if to is None:
            assert row["steer_text"] is None
            continue
        assert row["steer_text"] == steering.group(parse_groups(to)[0]).text
        assert row["prompts"] == [row["steer_text"] + "\n\n" + p for p in plain["prompts"]]
        assert sum(row["probs"]) == pytest.approx(1.0)
    assert "a woman" in by_key[(0, "SEX=2")]["prompts"][0]
    # a crash: one steered item row and one of its repetitions lost
    lost_item = next(r for r in rows if r["steer_to"] == "AGE=18-29")
    out.write_text("".join(json.dumps(r) + "\n" for r in rows if r is not lost_item))
    req_rows = _rows(requests)
    lost_rep = next(r for r in req_rows if r["steer_to"] == "AGE=18-29"
                    and r["item_id"] == lost_item["item_id"] and r["rep"] == 1)
    kept = "".join(json.dumps(r) + "\n" for r in req_rows if r is not lost_rep)
    requests.write_text(kept)
    main(_mpi_argv(tiny_model, fetched_data, tmp_path, *steer))
    assert requests.read_text().startswith(kept)
    added = _rows(requests)[len(req_rows) - 1:]
    assert [(r["item_id"], r["steer_to"], r["rep"]) for r in added] == [
        (lost_item["item_id"], "AGE=18-29", 1)]
    again = {(r["item_id"], r["steer_to"]): r for r in _rows(out)}
    assert set(again) == set(by_key)
    assert again[(lost_item["item_id"], "AGE=18-29")]["probs"] == pytest.approx(
        lost_item["probs"], abs=1e-6)
    # the same target asked in other words is refused
    with pytest.raises(UserError, match="steered to 'SEX=2' with other words"):
        main(_mpi_argv(tiny_model, fetched_data, tmp_path, *steer, "--steer-wording", "durmus"))
    with pytest.raises(UserError, match="add --steer group"):
        main(_mpi_argv(tiny_model, fetched_data, tmp_path, "--groups", "SEX=2"))


def test_globalqa_steers_to_each_country_in_countries(tiny_model, tmp_path):
    data = write_globalqa_csv(tmp_path / "global_opinions.csv", GLOBALQA_ROWS)
    registry = tiny_registry(tmp_path / "registry.json", tiny_model)
    main = script_main("create_model_response_globalqa")
    main(["--backend", "tiny-local", "--registry", str(registry), "--data_dir", str(data),
          "--save_dir", str(tmp_path / "g"), "--reps", "2", "--no-progress", "--steer",
          "country", "--steer-wording", "durmus"])
    rows = _rows(tmp_path / "g" / "tiny-local.jsonl")
    assert sorted((r["item_id"], r["steer_to"] or "") for r in rows) == [
        (i, t) for i in (0, 2) for t in ("", "Japan", "United States")]
    for r in rows:
        if r["steer_to"]:
            sentence = f"How would someone from {r['steer_to']} answer this question?"
            assert r["steer_text"] == sentence
            assert all(p.startswith(sentence + "\n\n") for p in r["prompts"])
            assert set(r["human"]) == {"United States", "Japan"}


# ---- the shared-prefix tree ---------------------------------------------------------------
def _bpe_on(texts: list[str]):
    """A byte-level BPE trained on the prompts themselves, so words merge as in a real one."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator(texts * 3, trainers.BpeTrainer(
        vocab_size=500, special_tokens=["<pad>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<pad>")


def test_the_prefix_tree_scores_every_prompt_as_a_pass_of_it_alone():
    from transformers import LlamaConfig, LlamaForCausalLM

    template = load_templates().mpi
    steering = load_steering()
    targets = [None, *(steering.group(g) for g in parse_groups("SEX=2;AGE=18-29"))]
    items = [SurveyItem("mpi", i, q) for i, q in enumerate(
        ["Keep my room tidy", "Love large parties", "Worry about things"])]
    prompts = [steer_prompt(p, t, "\n\n") for t in targets for it in items
               for p in item_prompts(template, it, 4, 0)]
    texts = [p.text for p in prompts]
    tok = _bpe_on(texts)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tok.get_vocab()), hidden_size=32, intermediate_size=64,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=1024, pad_token_id=0)).eval()
    letters = letters_for(5)
    jobs = [ScoreJob(t, letters, group="mpi") for t in texts]
    alone = LocalScorer(model, tok, batch_size=1, prefix_cache=False)
    expected = {i: s.probs for batch in alone.score(jobs) for i, s in batch}
    tree = LocalScorer(model, tok, batch_size=3, prefix_cache=True)
    got = {i: s.probs for batch in tree.score(jobs) for i, s in batch}
    assert sorted(got) == list(range(len(jobs)))
    for i, exp in expected.items():
        assert got[i] == pytest.approx(exp, abs=1e-5)
    # one root, then branches: per target, and per drawn answer of the worked examples
    assert tree.prefix_passes >= 1 and tree.branch_passes > len(targets)
    assert math.isclose(sum(got[0]), sum(expected[0]), abs_tol=1e-5)
