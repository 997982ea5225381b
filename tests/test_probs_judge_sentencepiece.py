"""The probability judge on a SentencePiece chat model (issue 23, item 5): after `[/INST]` a
Llama-2 or Mistral model usually writes the space token '▁' first, and the vocabulary has no
'▁3', so each digit is read on both paths, '3' and '▁' then '3'. A reasoning judge, whose
answer starts inside a <think> block, is refused."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
spm = pytest.importorskip("sentencepiece")

from annotations.parse import CATEGORIES  # noqa: E402
from annotations.probs import DIGITS  # noqa: E402
from core.errors import UserError  # noqa: E402
from harness.results import read_jsonl  # noqa: E402
from tests.script_entry import script_main  # noqa: E402

CORPUS = ["[INST] Which technique did the response use ? Reply with one digit . [/INST] 4",
          "The answer is 3 and the category is 5 , not 1 , 2 or 6 .",
          "Input : why vote ? Output : people think tax is good ."] * 40
LLAMA2_CHAT = "{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}"
R1_CHAT = "{% for m in messages %}<|User|>{{ m['content'] }}{% endfor %}<|Assistant|><think>\n"


def sentencepiece_llama(folder: Path, chat_template: str) -> None:
    """A tiny random Llama with a SentencePiece unigram vocabulary trained here, digits split
    as Llama-2's are (so there is '▁' and '3' but no '▁3'), in Llama-2's chat format."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    proto = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS), model_writer=proto, vocab_size=56,
        model_type="unigram", split_digits=True, character_coverage=1.0, pad_id=0, unk_id=1,
        bos_id=2, eos_id=3, user_defined_symbols=["[INST]", "[/INST]"], minloglevel=2)
    sp = spm.SentencePieceProcessor(model_proto=proto.getvalue())
    pieces = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    assert "▁" in dict(pieces) and not any(p.startswith("▁") and p[1:].isdigit()
                                           for p, _ in pieces)
    core = Tokenizer(models.Unigram(pieces, unk_id=sp.unk_id(), byte_fallback=False))
    core.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first", split=False)
    core.decoder = decoders.Metaspace(prepend_scheme="first", split=False)
    core.add_special_tokens([AddedToken(t, special=True)
                             for t in ("<pad>", "<unk>", "<s>", "</s>")])
    core.add_tokens([AddedToken(t, normalized=False) for t in ("[INST]", "[/INST]")])
    tok = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>",
                                  pad_token="<pad>", unk_token="<unk>")
    tok.chat_template = chat_template
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(
        vocab_size=len(pieces), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        pad_token_id=0)).save_pretrained(folder)


def registry(tmp_path: Path, folder: Path, **options) -> Path:
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"sp-judge": {
        "provider": "hf", "model_id": "sp", "options": {"model_path": str(folder),
                                                         "dtype": "fp32", **options}}}))
    return path


def generations(path: Path) -> Path:
    responses = ["people think tax is good", "why vote", "the answer is 3"]
    path.write_text("".join(json.dumps({
        "id": i, "sample": 0, "backend": "m", "input": "why vote", "response": r,
        "error": None, "label": "refusal", "task": "unsafe_questions",
        "original_input": "why vote", "format_number": 0}) + "\n"
        for i, r in enumerate(responses)))
    return path


def annotate(tmp_path: Path, registry_path: Path) -> list[dict]:
    out = tmp_path / "ann.jsonl"
    status = script_main("annotate")([
        "--judge", "sp-judge", "--registry", str(registry_path), "--judge-mode", "probs",
        "--generations", str(generations(tmp_path / "gen.jsonl")), "--out", str(out),
        "--batch-size", "2", "--no-progress"])
    assert status == 0
    return sorted(read_jsonl(out), key=lambda r: r["id"])


def test_digits_after_the_space_token_are_read_on_both_paths(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tmp_path / "sp-llama"
    sentencepiece_llama(folder, LLAMA2_CHAT)
    rows = annotate(tmp_path, registry(tmp_path, folder))
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    vocab = tok.get_vocab()
    space, digit = vocab["▁"], [vocab[d] for d in DIGITS]
    assert len(rows) == 3
    for row in rows:
        text = row["judge_input"]
        assert text.endswith("[/INST]")
        # how this tokenizer writes '3' and ' 3' after the prompt: '3', and '▁' then '3'
        base = tok(text, add_special_tokens=False)["input_ids"]
        assert tok(text + "3", add_special_tokens=False)["input_ids"] == [*base, vocab["3"]]
        assert tok(text + " 3", add_special_tokens=False)["input_ids"] == [
            *base, space, vocab["3"]]
        ids = tok(text)["input_ids"]
        with torch.inference_mode():
            now = torch.softmax(model(torch.tensor([ids])).logits[0, -1], -1)
            after_space = torch.softmax(model(torch.tensor([[*ids, space]])).logits[0, -1], -1)
        direct = [float(now[t]) for t in digit]
        both = [float(now[t] + now[space] * after_space[t]) for t in digit]
        assert row["digit_mass"] == pytest.approx(sum(both), rel=1e-5)
        assert row["digit_mass"] > sum(direct) * 1.001  # the space path adds mass
        probs = [row["judge_probs"][c] for c in CATEGORIES]
        assert probs == pytest.approx([p / sum(both) for p in both], abs=1e-6)
        assert row["digit_space_path"] == {"space_id": space,
                                           "token_ids": {d: [vocab[d]] for d in DIGITS}}


def test_a_reasoning_judge_is_refused_in_one_line(tmp_path):
    folder = tmp_path / "r1-like"
    sentencepiece_llama(folder, R1_CHAT)  # the prompt ends inside an open <think> block
    for options in ({}, {"reasoning": True}):
        with pytest.raises(UserError) as info:
            annotate(tmp_path, registry(tmp_path, folder, **options))
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith("judge sp-judge is a reasoning model") \
            and "--judge-mode json" in message
    assert not (tmp_path / "ann.jsonl").exists()
