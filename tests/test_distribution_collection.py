"""Collecting answer distributions: items, prompts, letter tokens, local letter probabilities,
the scripts' rows (read back by the analysis), resume, and GlobalQA parsing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from analysis.distribution_inputs import load_distribution_files  # noqa: E402
from backends.option_scores import LocalScorer, ScoreJob  # noqa: E402
from backends.option_tokens import letter_token_ids  # noqa: E402
from core.errors import UserError  # noqa: E402
from pluralism.globalqa import (  # noqa: E402
    items_from_rows,
    parse_options,
    parse_selections,
)
from pluralism.items import SurveyItem, load_mpi_items  # noqa: E402
from pluralism.letters import (  # noqa: E402
    fill_missing,
    letter_of_answer,
    letters_from_top_logprobs,
    token_letter,
)
from pluralism.prompts import (  # noqa: E402
    build_prompt,
    item_prompts,
    letters_for,
    load_templates,
)
from tests.distribution_helpers import (  # noqa: E402
    GLOBALQA_ROWS,
    build_letter_model,
    selections,
    tiny_registry,
    write_globalqa_csv,
)
from tests.script_entry import script_main  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_letter_model(tmp_path_factory.mktemp("letter-llama"))


# ---- items and prompts -------------------------------------------------------------------
def test_mpi_items_come_from_the_manifest_file(fetched_data, tmp_path):
    items = load_mpi_items(fetched_data)  # a data folder: pluralism/mpi_questions.tsv in it
    assert len(items) == 120
    assert [i.item_id for i in items] == list(range(120))
    assert items[0].question == "Worry about things"
    assert items[0].meta == {"facet": "Anxiety", "trait": "N", "key": 1}
    assert {i.meta["key"] for i in items} == {1, -1}
    with pytest.raises(UserError, match="fetch_data.py"):
        load_mpi_items(tmp_path / "nowhere.tsv")


def test_study_template_loads_and_follows_its_layout(mirror_dir):
    t = load_templates(mirror_dir / "pluralism" / "study_prompts.json")
    assert t.name == "study_prompts.json"
    mpi = t.mpi
    item = SurveyItem("mpi", 7, "Love to read")
    p = build_prompt(mpi, item, (0, 3, 1))
    shots = [mpi.item_template.format(statement=ex.question) + label + "\n\n\n\n"
             for ex, label in zip(mpi.examples, ("A.", "D.", "B."), strict=True)]
    assert p.text == " ".join(shots) + mpi.item_template.format(statement="Love to read")
    assert p.text.endswith("Answer Choice:") and p.prefix == " ".join(shots)
    g = SurveyItem("globalqa", 3, "Is it good?", ("Yes", "No"))
    text = build_prompt(t.globalqa, g, (2, 0, 4)).text
    assert text.endswith(" Is it good? A. Yes B. No \n Answer Choice:")
    assert "Every election B. Some elections C. No elections \n Answer Choice:C.\n\n " in text
    # repetitions draw their own labels, reproducibly; MPI examples' labels are distinct
    reps = item_prompts(mpi, item, 5, seed=0)
    assert reps == item_prompts(mpi, item, 5, seed=0)
    assert len({r.drawn for r in reps}) > 1
    assert all(len(set(r.drawn)) == 3 for r in reps)


def test_our_template_is_the_default_and_bad_files_are_one_line_errors(tmp_path):
    t = load_templates()
    assert t.name == "pluralism_template.json"
    assert len(t.mpi.answer_choices) == 5
    assert t.mpi.answer_choices[0].lower() == "very accurate"  # A = Very Accurate (human data)
    bad = tmp_path / "t.json"
    bad.write_text(json.dumps({"mpi": {}, "globalqa": {}}))
    with pytest.raises(UserError, match="item_template"):
        load_templates(bad)
    with pytest.raises(UserError, match="does not exist"):
        load_templates(tmp_path / "missing.json")


# ---- letter tokens -------------------------------------------------------------------------
def _fast(core):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<pad>")


def _byte_level_bpe():
    """A GPT-2 style byte-level BPE trained here: 'A' and 'ĠA' (' A') are both tokens, and the
    period is always its own token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    corpus = [f"Question? Answer Choice: {c}. Answer Choice:{c}. ({c})" for c in "ABCD"] * 50
    core.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<pad>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return _fast(core)


def test_letter_tokens_follow_how_each_tokenizer_splits_letters():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    bpe = _byte_level_bpe()
    v = bpe.get_vocab()
    got = letter_token_ids(bpe, "Question? Answer Choice:", "AB")
    assert set(got["A"]) == {v["A"], v["ĠA"]} and set(got["B"]) == {v["B"], v["ĠB"]}

    # whole words split at whitespace: 'A.' is one token; 'Choice:A' would merge (unknown),
    # so a letter written right after the colon cannot be read and is not counted
    vocab = {t: i for i, t in enumerate(["<pad>", "<unk>", "Answer", "Choice:", "A", "A.",
                                         "B", "B.", "A)"])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    words = _fast(core)
    got = letter_token_ids(words, "Answer Choice:", "AB")
    assert got == {"A": (vocab["A"], vocab["A."], vocab["A)"]), "B": (vocab["B"], vocab["B."])}

    # SentencePiece style (Metaspace): '▁A'
    vocab = {t: i for i, t in enumerate(["<pad>", "<unk>", "▁Answer", "▁Choice:", "▁A", "▁B",
                                         "A", "B", "▁"])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Metaspace()
    core.decoder = decoders.Metaspace()
    assert letter_token_ids(_fast(core), "Answer Choice:", "AB") == {
        "A": (vocab["▁A"],), "B": (vocab["▁B"],)}


def test_a_letter_the_tokenizer_cannot_write_is_a_user_error():
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<pad>": 0, "<unk>": 1, "Answer": 2, "Choice:": 3, "A": 4}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    with pytest.raises(UserError, match="letter 'B'"):
        letter_token_ids(_fast(core), "Answer Choice:", "AB")


# ---- local letter probabilities -----------------------------------------------------------
def test_letter_probabilities_equal_a_direct_computation(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).eval()
    template = load_templates().mpi
    items = [SurveyItem("mpi", i, q) for i, q in enumerate(
        ["Yes the", "No", "Maybe do you the Yes", "the the the", "How well"])]
    # two draws, so prompts share their examples (prefix states) within each draw
    prompts = [build_prompt(template, it, d) for it in items for d in ((0, 1, 2), (4, 3, 2))]
    jobs = [ScoreJob(p.text, letters_for(5), group=p.prefix) for p in prompts]
    vocab = tok.get_vocab()

    def direct(text: str) -> list[float]:
        ids = tok(text)["input_ids"]
        with torch.inference_mode():
            logits = model(torch.tensor([ids])).logits[0, -1]
        logp = torch.log_softmax(logits.float(), -1)
        # this word-level tokenizer writes a letter after ':' only as the word 'A'
        return [math.exp(float(logp[vocab[c]])) for c in "ABCDE"]

    expected = [direct(j.text) for j in jobs]
    for kw in ({"batch_size": 3, "prefix_cache": True}, {"batch_size": 4, "prefix_cache": False},
               {"batch_size": 1, "prefix_cache": False}):
        scorer = LocalScorer(model, tok, **kw)
        got = {}
        for batch in scorer.score(jobs):
            for i, s in batch:
                got[i] = s.probs
                assert s.token_ids == {c: (vocab[c],) for c in "ABCDE"}
        for i, exp in enumerate(expected):
            assert got[i] == pytest.approx(exp, abs=1e-6), kw
        assert scorer.prefix_passes == (2 if kw["prefix_cache"] else 0)


def test_a_letter_written_two_ways_sums_both_tokens_probabilities():
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = _byte_level_bpe()  # after ':' a letter may come as 'A' or as ' A' ('ĠA'): two tokens
    v = tok.get_vocab()
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(v), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        pad_token_id=v["<pad>"])).eval()
    shared = "Question? Answer Choice: B. Question? Answer Choice: D. Question?? "
    texts = [shared + tail + " Answer Choice:" for tail in ("Why", "Which one", "How so?")]
    jobs = [ScoreJob(t, letters_for(4), group="same examples") for t in texts]

    def direct(text: str) -> list[float]:
        with torch.inference_mode():
            logits = model(torch.tensor([tok(text)["input_ids"]])).logits[0, -1]
        logp = torch.log_softmax(logits.float(), -1)
        return [math.exp(float(torch.logsumexp(logp[[v[c], v["Ġ" + c]]], 0))) for c in "ABCD"]

    expected = [direct(t) for t in texts]
    for prefix_cache in (True, False):
        scorer = LocalScorer(model, tok, batch_size=2, prefix_cache=prefix_cache)
        got = {i: s for batch in scorer.score(jobs) for i, s in batch}
        for i, exp in enumerate(expected):
            assert {c: set(ids) for c, ids in got[i].token_ids.items()} == {
                c: {v[c], v["Ġ" + c]} for c in "ABCD"}
            assert got[i].probs == pytest.approx(exp, rel=1e-5, abs=1e-7), prefix_cache
        assert scorer.prefix_passes == (1 if prefix_cache else 0)
    # both tokens count: each letter gets more than its bare token alone
    with torch.inference_mode():
        logp = torch.log_softmax(model(torch.tensor([tok(texts[0])["input_ids"]])).logits[0, -1],
                                 -1)
    assert all(expected[0][k] > math.exp(float(logp[v[c]])) * 1.000001
               for k, c in enumerate("ABCD"))


def test_padded_batches_equal_a_direct_pass_on_a_model_with_absolute_positions():
    """GPT-2 adds a learned embedding per position, so a left-padded prompt whose positions
    were counted from the pad (or off by one) scores differently; a rotary model's attention
    sees only relative positions, which would hide that."""
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = _byte_level_bpe()
    v = tok.get_vocab()
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(
        vocab_size=len(v), n_embd=32, n_layer=2, n_head=4, n_positions=256,
        pad_token_id=v["<pad>"], bos_token_id=v["<unk>"], eos_token_id=v["<unk>"])).eval()
    shared = "Question? Answer Choice: B. Question? Answer Choice: D. "
    # lengths differ by many tokens, so the short prompts carry long left padding in a batch
    tails = ("Why?", "Which one of these, and why, and how?", "How so? How so? How so? How?",
             "Question?")
    texts = [shared + t + " Answer Choice:" for t in tails]
    texts.append("Question? Answer Choice:")  # no shared prefix at all
    lengths = {len(tok(t)["input_ids"]) for t in texts}
    assert max(lengths) - min(lengths) >= 8

    def direct(text: str) -> list[float]:
        with torch.inference_mode():
            logits = model(torch.tensor([tok(text)["input_ids"]])).logits[0, -1]
        logp = torch.log_softmax(logits.float(), -1)
        return [math.exp(float(torch.logsumexp(logp[[v[c], v["Ġ" + c]]], 0))) for c in "ABCD"]

    expected = [direct(t) for t in texts]
    # the check can fail: a pass whose positions start at the pad gives other numbers
    with torch.inference_mode():
        ids = torch.tensor([tok(texts[-1])["input_ids"]])
        shifted = model(ids, position_ids=torch.arange(5, 5 + ids.shape[1])[None]).logits[0, -1]
        plain = model(ids).logits[0, -1]
    assert float((shifted - plain).abs().max()) > 1e-3
    jobs = [ScoreJob(t, letters_for(4), group="same examples" if k < 4 else None)
            for k, t in enumerate(texts)]
    for batch_size, prefix_cache in ((5, False), (3, False), (5, True), (2, True)):
        scorer = LocalScorer(model, tok, batch_size=batch_size, prefix_cache=prefix_cache)
        got = {i: s.probs for batch in scorer.score(jobs) for i, s in batch}
        for i, exp in enumerate(expected):
            assert got[i] == pytest.approx(exp, rel=1e-5, abs=1e-7), (batch_size, prefix_cache)


# ---- distribution rules --------------------------------------------------------------------
def test_opinionqa_rule_for_letters_missing_from_a_top_k_list():
    # listed: A 0.5, B 0.2, 'The' 0.1 -> leftover 0.2; C, D missing: min(0.1, 0.2/2) = 0.1
    filled, missing = fill_missing({"A": 0.5, "B": 0.2}, [0.5, 0.2, 0.1], "ABCD")
    assert missing == ["C", "D"] and filled["C"] == pytest.approx(0.1)
    # leftover smaller than the smallest listed: leftover / missing wins
    filled, _ = fill_missing({"A": 0.9}, [0.9, 0.06], "ABC")
    assert filled["B"] == pytest.approx(0.02) and filled["C"] == pytest.approx(0.02)
    top = {" A": math.log(0.5), "B": math.log(0.2), "The": math.log(0.1)}
    d = letters_from_top_logprobs(top, "ABCD")
    assert d.raw == pytest.approx([0.5, 0.2, 0.1, 0.1]) and d.imputed == ("C", "D")
    assert sum(d.probs) == pytest.approx(1.0)
    assert d.letter_mass == pytest.approx(0.7)  # A 0.5 + B 0.2: the fills are not counted
    assert letters_from_top_logprobs({"The": -0.1}, "AB") is None  # nothing to go on
    assert [token_letter(t, "AB") for t in (" A", "A.", "(B", "An", "C", "a")] == [
        "A", "A", "B", None, None, None]
    assert [letter_of_answer(t, "ABC") for t in ("B. Moderately", " (C)", "Answer Choice: A",
                                                 "I think", "a", "Always", None)] == [
        "B", "C", "A", None, None, None, None]


# ---- GlobalQA parsing ------------------------------------------------------------------------
def test_globalqa_cells_are_parsed_as_literals_never_evaluated():
    assert parse_options("['Yes', 'No']") == ("Yes", "No")
    assert parse_selections("defaultdict(<class 'list'>, {'Japan': [0.25, 0.75]})") == {
        "Japan": [0.25, 0.75]}
    assert parse_selections("{'Japan': [1, 0]}") == {"Japan": [1.0, 0.0]}
    items, report = items_from_rows(GLOBALQA_ROWS, ["United States", "Japan"], max_options=18)
    assert [i.item_id for i in items] == [0, 2]  # ids are rows of the file
    assert items[1].options == ("Often", "Sometimes", "Never")
    assert items[1].human == {"United States": [0.5, 0.3, 0.2], "Japan": [0.4, 0.4, 0.2]}
    assert report.missing_country == 1
    assert [r for r, _ in report.malformed] == [3, 4]
    assert "3 options but 2 probabilities" in report.malformed[0][1]
    assert "left out 2 malformed" in report.format()


# ---- the scripts ---------------------------------------------------------------------------
def test_mpi_script_rows_load_resume_and_refuse_other_settings(tiny_model, fetched_data,
                                                               tmp_path, capsys):
    registry = tiny_registry(tmp_path / "registry.json", tiny_model)
    out_dir = tmp_path / "mpi"
    argv = ["--backend", "tiny-local", "--registry", str(registry), "--data_dir",
            str(fetched_data), "--save_dir", str(out_dir), "--limit", "4", "--reps", "3",
            "--batch-size", "4", "--no-progress"]
    main = script_main("create_model_response_mpi")
    main(argv + ["--dry-run"])
    assert "to do: 12 of 12 forward passes" in capsys.readouterr().out
    assert not out_dir.exists()
    main(argv)
    out = out_dir / "tiny-local.jsonl"
    items, report = load_distribution_files([out], "mpi")
    assert [i.item_id for i in items] == [0, 1, 2, 3] and report.rows == 4
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    for row in rows:
        assert len(row["prompts"]) == 3 and len(row["letter_mass"]) == 3
        assert all(p.endswith("Answer Choice:") for p in row["prompts"])
        assert sum(row["probs"]) == pytest.approx(1.0)
        assert 0 < row["letter_mass"][0] <= 1
        means = [sum(c) / 3 for c in zip(*row["rep_probs"], strict=True)]
        assert row["probs"] == pytest.approx(means, abs=1e-7)
        assert row["backend"] == "tiny-local" and row["method"] == "logprobs"
        assert row["params"]["reps"] == 3 and row["params"]["letter_token_ids"]
    # a crash: the last item row torn, one repetition row lost -> a rerun completes them
    requests = out_dir / "requests" / "tiny-local.jsonl"
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:-1]) + lines[-1][:20])
    req_lines = requests.read_text().splitlines(keepends=True)
    lost = json.loads(req_lines[-1])
    requests.write_text("".join(req_lines[:-1]))
    main(argv)
    rows2 = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["item_id"] for r in rows2) == [0, 1, 2, 3]
    redone = {(r["item_id"], r["rep"]) for r in map(json.loads, requests.read_text().splitlines())}
    assert len(redone) == 12 and (lost["item_id"], lost["rep"]) in redone
    by_id = {r["item_id"]: r for r in rows2}
    for r in rows:  # the same numbers again (the draws are seeded per item and repetition)
        assert by_id[r["item_id"]]["probs"] == pytest.approx(r["probs"], abs=1e-6)
    with pytest.raises(UserError, match="other settings"):
        main(argv + ["--seed", "1"])


def test_an_item_row_assembled_on_resume_keeps_its_letter_token_ids(tiny_model, fetched_data,
                                                                     tmp_path):
    from transformers import AutoTokenizer

    vocab = AutoTokenizer.from_pretrained(tiny_model).get_vocab()
    expected = {c: [vocab[c]] for c in "ABCDE"}  # the word-level tokenizer's letters
    registry = tiny_registry(tmp_path / "registry.json", tiny_model)
    out_dir = tmp_path / "mpi"
    argv = ["--backend", "tiny-local", "--registry", str(registry), "--data_dir",
            str(fetched_data), "--save_dir", str(out_dir), "--limit", "2", "--reps", "2",
            "--no-progress"]
    main = script_main("create_model_response_mpi")
    main(argv)
    out, requests = out_dir / "tiny-local.jsonl", out_dir / "requests" / "tiny-local.jsonl"
    reps = [json.loads(line) for line in requests.read_text().splitlines()]
    assert len(reps) == 4 and all(r["letter_token_ids"] == expected for r in reps)
    # a crash after every repetition was written but before any item row was
    out.write_text("")
    before = requests.read_text()
    main(argv)
    assert requests.read_text() == before  # nothing was scored again
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["item_id"] for r in rows) == [0, 1]
    assert all(r["params"]["letter_token_ids"] == expected for r in rows)


def test_globalqa_script_on_a_local_csv_in_the_hub_format(tiny_model, tmp_path, capsys):
    registry = tiny_registry(tmp_path / "registry.json", tiny_model)
    data = write_globalqa_csv(tmp_path / "global_opinions.csv", GLOBALQA_ROWS)
    main = script_main("create_model_response_globalqa")
    main(["--backend", "tiny-local", "--registry", str(registry), "--data_dir", str(data),
          "--save_dir", str(tmp_path / "g"), "--reps", "2", "--no-progress"])
    printed = capsys.readouterr().out
    assert "5 rows; 2 kept" in printed and "malformed" in printed
    out = tmp_path / "g" / "tiny-local.jsonl"
    items, _ = load_distribution_files([out], "globalqa")
    assert [i.item_id for i in items] == [0, 2]
    assert set(items[1].human) == {"United States", "Japan"}
    assert len(items[1].probs) == 3 and items[1].options == ("Often", "Sometimes", "Never")
    with pytest.raises(UserError, match="no item has answers"):
        main(["--backend", "tiny-local", "--registry", str(registry), "--data_dir", str(data),
              "--save_dir", str(tmp_path / "g2"), "--countries", "Atlantis", "--no-progress"])
    with pytest.raises(UserError, match="does not exist"):
        main(["--backend", "tiny-local", "--registry", str(registry), "--data_dir",
              str(tmp_path / "nope.csv"), "--no-progress"])


#: rows answered by different sets of countries, for --countries
COUNTRY_ROWS = [
    {"question": "Q0 tea?", "options": "['Yes', 'No']",
     "selections": selections({"United States": [0.6, 0.4], "Japan": [0.8, 0.2],
                               "Germany": [0.5, 0.5]})},
    {"question": "Q1 only Germany?", "options": "['Yes', 'No']",
     "selections": selections({"Germany": [0.3, 0.7]})},
    {"question": "Q2 Japan and Germany?", "options": "['Often', 'Sometimes', 'Never']",
     "selections": selections({"Japan": [0.4, 0.4, 0.2], "Germany": [0.1, 0.2, 0.7]})},
    {"question": "Q3 no Germany?", "options": "['Yes', 'No']",
     "selections": selections({"United States": [0.5, 0.5], "Japan": [0.1, 0.9]})},
    {"question": "Q4 Germany's lengths differ?", "options": "['Yes', 'No']",
     "selections": selections({"Japan": [0.5, 0.5], "Germany": [0.2, 0.3, 0.5]})},
]


def _globalqa_argv(tmp_path: Path, tiny_model: Path, countries: str) -> list[str]:
    data = tmp_path / "global_opinions.csv"
    if not data.exists():
        write_globalqa_csv(data, COUNTRY_ROWS)
    registry = tiny_registry(tmp_path / "registry.json", tiny_model)
    return ["--backend", "tiny-local", "--registry", str(registry), "--data_dir", str(data),
            "--save_dir", str(tmp_path / "g"), "--reps", "2", "--countries", countries,
            "--no-progress"]


def test_countries_keep_exactly_the_items_every_listed_country_answered(tiny_model, tmp_path,
                                                                       capsys):
    main = script_main("create_model_response_globalqa")
    main(_globalqa_argv(tmp_path, tiny_model, "Japan,Germany"))
    printed = capsys.readouterr().out
    assert "5 rows; 2 kept; 2 without every chosen country" in printed
    assert "left out 1 malformed row(s) (row 4: 2 options but 3 probabilities for Germany)" \
        in printed
    rows = [json.loads(line) for line in (tmp_path / "g" / "tiny-local.jsonl").open()]
    assert sorted(r["item_id"] for r in rows) == [0, 2]
    by_id = {r["item_id"]: r for r in rows}
    assert by_id[0]["human"] == {"Japan": [0.8, 0.2], "Germany": [0.5, 0.5]}
    assert by_id[2]["human"] == {"Japan": [0.4, 0.4, 0.2], "Germany": [0.1, 0.2, 0.7]}
    assert all(r["params"]["countries"] == ["Japan", "Germany"] for r in rows)
    assert len(by_id[2]["probs"]) == 3


def test_resuming_globalqa_with_other_countries_is_refused(tiny_model, tmp_path):
    main = script_main("create_model_response_globalqa")
    main(_globalqa_argv(tmp_path, tiny_model, "Japan,Germany"))
    out = tmp_path / "g" / "tiny-local.jsonl"
    before = out.read_text()
    with pytest.raises(UserError, match="other settings.*countries") as exc:
        main(_globalqa_argv(tmp_path, tiny_model, "Japan"))
    assert "\n" not in str(exc.value) and "--out-dir" in str(exc.value)
    assert "--redo-stale" in str(exc.value)
    assert out.read_text() == before


def test_globalqa_with_a_question_reworded_stops_then_redo_stale_scores_it_again(
        tiny_model, tmp_path, capsys):
    """A local collection's repetition is reused only for the same prompt text (by hash):
    a question reworded in the data stops the run and its dry run in one line; --redo-stale
    scores that item's repetitions again and reassembles it."""
    main = script_main("create_model_response_globalqa")
    argv = _globalqa_argv(tmp_path, tiny_model, "Japan,Germany")
    main(argv)
    requests = tmp_path / "g" / "requests" / "tiny-local.jsonl"
    first = {(r["item_id"], r["rep"]): r for r in map(json.loads, requests.open())}
    reworded = [dict(r) for r in COUNTRY_ROWS]
    reworded[2]["question"] = "Q2 Japan and Germany, reworded?"
    write_globalqa_csv(tmp_path / "global_opinions.csv", reworded)
    for extra in ([], ["--dry-run"]):
        with pytest.raises(UserError, match=r"another prompt text \(2 rows, first item_id 2"):
            main([*argv, *extra])
    capsys.readouterr()
    main([*argv, "--redo-stale"])
    now = {(r["item_id"], r["rep"]): r for r in map(json.loads, requests.open())}
    assert now.keys() == first.keys()
    assert now[(0, 0)] == first[(0, 0)]
    assert "reworded" in now[(2, 0)]["input"] and "reworded" not in first[(2, 0)]["input"]
    rows = {r["item_id"]: r for r in map(json.loads, (tmp_path / "g" / "tiny-local.jsonl")
                                         .open())}
    assert all("reworded" in p for p in rows[2]["prompts"])


def test_bad_backend_and_local_sampling_are_one_line_errors(fetched_data, tmp_path):
    main = script_main("create_model_response_mpi")
    with pytest.raises(UserError, match="unknown backend"):
        main(["--backend", "no-such-model", "--data_dir", str(fetched_data)])
    with pytest.raises(UserError, match="drop --samples-per-item"):
        main(["--data_dir", str(fetched_data), "--samples-per-item", "5", "--dry-run"])
