"""The local probability coverage judge: P(yes) read from a tiny random model equals a plain
forward pass of the full prompt, Yes and No spelled every way its tokenizer writes them."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from backends.option_tokens import word_token_ids  # noqa: E402
from harness.results import read_jsonl  # noqa: E402
from tests.distribution_helpers import build_letter_model, tiny_registry  # noqa: E402
from tests.script_entry import script_main  # noqa: E402


def test_yes_and_no_are_read_in_every_spelling_a_sentencepiece_tokenizer_has():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Metaspace()
    core.decoder = decoders.Metaspace()
    # 'YES' never seen whole: written 'Y' + 'E' + 'S', whose first piece begins other words
    corpus = ["Reply: Yes", "Reply: No", "Reply: yes", "Reply: no", "Reply: You",
              "Reply:Yes", "Reply:No", "Neither", "E S"] * 50
    core.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=200,
                                                         special_tokens=["<unk>"]))
    tok = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>")
    vocab = tok.get_vocab()
    ids = word_token_ids(tok, "Reply:", ["Yes", "No"])
    assert vocab["\u2581Yes"] in ids["Yes"] and vocab["\u2581yes"] in ids["Yes"]
    assert vocab["\u2581No"] in ids["No"] and vocab["\u2581no"] in ids["No"]
    assert not set(ids["Yes"]) & set(ids["No"])
    assert vocab["Y"] not in ids["Yes"]  # a piece of 'YES' that also begins 'You'
    assert all(tok.decode([i]).strip().lower() in ("yes", "no")
               for i in ids["Yes"] + ids["No"])


def test_local_coverage_judge_equals_a_full_forward_pass(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = build_letter_model(tmp_path / "model")
    registry = tiny_registry(tmp_path / "reg.json", model_dir)
    rows = [{"item_id": i, "sample": 0, "backend": "m", "model": "m", "error": None,
             "provider_message": None, "question": "Do you cook ?",
             "options": ["Yes", "No", "Maybe"][: 2 + i % 2],
             "human": {"Japan": [0.5, 0.3, 0.2][: 2 + i % 2]}, "input": "Do you cook ?",
             "response": ["Yes", "No you do", "Maybe a statement"][i]} for i in range(3)]
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "coverage.jsonl"
    argv = ["--judge", "tiny-local", "--registry", str(registry), "--responses", str(answers),
            "--out", str(out), "--judge-mode", "probs", "--batch-size", "3", "--no-progress"]
    assert script_main("annotate_overton")(argv) == 0
    calls = list(read_jsonl(tmp_path / "coverage.calls.jsonl"))
    assert len(calls) == 3 + 2 + 3 + 2  # per answer: the refusal question and each option

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    yes, no = tok.convert_tokens_to_ids("Yes"), tok.convert_tokens_to_ids("No")
    got = {r["item_id"]: r for r in read_jsonl(out)}
    for call in calls:
        with torch.no_grad():
            logits = model(**tok(call["input"], return_tensors="pt")).logits[0, -1]
        p = torch.softmax(logits.double(), -1)
        expected = float(p[yes] / (p[yes] + p[no]))
        row = got[call["item_id"]]
        prob = row["refusal_prob"] if call["option"] == -1 else \
            row["coverage_probs"][call["option"]]
        assert prob == pytest.approx(expected, abs=1e-5)
        if call["option"] >= 0:
            assert row["covered"][call["option"]] == (expected > 0.5)
        assert call["answer_token_ids"] == {"Yes": [yes], "No": [no]}
        assert math.isclose(sum(call["yes_no_probs"]), float(p[yes] + p[no]), rel_tol=1e-4)

    # a rerun scores nothing
    before = (tmp_path / "coverage.calls.jsonl").read_text()
    assert script_main("annotate_overton")(argv) == 0
    assert (tmp_path / "coverage.calls.jsonl").read_text() == before


def test_local_coverage_judge_reuses_a_call_only_for_the_same_answer_and_judge(tmp_path):
    """A local coverage judgement is reused only for the same answer text, judge and mode: an
    answer edited after judging, another judge or a JSON judge's calls stop the run in one
    line (the dry run too); --redo-stale scores again only the stale calls."""
    from core.errors import UserError

    model_dir = build_letter_model(tmp_path / "model")
    registry = tiny_registry(tmp_path / "reg.json", model_dir)
    other = tiny_registry(tmp_path / "other.json", model_dir, name="tiny-other")
    rows = [{"item_id": i, "sample": 0, "backend": "m", "model": "m", "error": None,
             "provider_message": None, "question": "Do you cook ?", "options": ["Yes", "No"],
             "human": {"Japan": [0.5, 0.5]}, "input": "Do you cook ?",
             "response": ["Yes", "No you do"][i]} for i in range(2)]
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "coverage.jsonl"
    calls = tmp_path / "coverage.calls.jsonl"
    argv = ["--registry", str(registry), "--responses", str(answers), "--out", str(out),
            "--judge-mode", "probs", "--no-progress"]
    judge = script_main("annotate_overton")
    assert judge(["--judge", "tiny-local", *argv]) == 0
    first = {(c["item_id"], c["option"]): c for c in read_jsonl(calls)}
    assert len(first) == 6

    rows[1]["response"] = "Yes you do"
    answers.write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = calls.read_text()
    for extra in ([], ["--dry-run"]):
        with pytest.raises(UserError, match=r"another prompt text \(3 rows, first item_id 1"):
            judge(["--judge", "tiny-local", *argv, *extra])
    assert calls.read_text() == before
    assert judge(["--judge", "tiny-local", *argv, "--redo-stale", "--dry-run"]) == 0
    assert calls.read_text() == before
    assert judge(["--judge", "tiny-local", *argv, "--redo-stale"]) == 0
    now = {(c["item_id"], c["option"]): c for c in read_jsonl(calls)}
    assert all(now[k] == first[k] for k in first if k[0] == 0)  # kept as they were
    assert all("Yes you do" in now[k]["input"] and "Yes you do" not in first[k]["input"]
               for k in first if k[0] == 1)
    assert next(r for r in read_jsonl(out) if r["item_id"] == 1)["response"] == "Yes you do"

    # another judge, or a JSON judge's calls, are not this judge's
    with pytest.raises(UserError, match="backend 'tiny-local' there, 'tiny-other' now"):
        judge(["--judge", "tiny-other", *[a if a != str(registry) else str(other)
                                          for a in argv]])
    calls.write_text("".join(json.dumps({k: v for k, v in c.items() if k != "yes_no_probs"})
                             + "\n" for c in now.values()))
    with pytest.raises(UserError, match=r"tiny-local \(json judge\)' there"):
        judge(["--judge", "tiny-local", *argv, "--dry-run"])


def test_a_local_coverage_judge_whose_prompt_opens_a_think_block_is_refused(tmp_path):
    """Issue 23 §5 in the Overton judge: a reasoning judge's P(yes) read right after an open
    <think> means nothing; refused in one line, as annotate.py --judge-mode probs does."""
    from transformers import AutoTokenizer

    from core.errors import UserError

    model_dir = build_letter_model(tmp_path / "model")
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.chat_template = ("{% for m in messages %}<|User|>{{ m['content'] }}{% endfor %}"
                         "<|Assistant|><think>\n")
    tok.save_pretrained(model_dir)
    registry = tiny_registry(tmp_path / "reg.json", model_dir)
    rows = [{"item_id": 0, "sample": 0, "backend": "m", "model": "m", "error": None,
             "provider_message": None, "question": "Do you cook ?", "options": ["Yes", "No"],
             "human": {"Japan": [0.5, 0.5]}, "input": "Do you cook ?", "response": "Yes"}]
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = ["--judge", "tiny-local", "--registry", str(registry), "--responses", str(answers),
            "--out", str(tmp_path / "coverage.jsonl"), "--judge-mode", "probs", "--no-progress"]
    with pytest.raises(UserError, match="is a reasoning model.*--judge-mode json"):
        script_main("annotate_overton")(argv)
    assert not (tmp_path / "coverage.calls.jsonl").exists()
