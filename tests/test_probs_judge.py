"""The probability judge on local models: digit distributions read from a tiny random model
equal a direct computation from its logits, whichever way its tokenizer writes a digit, and
the shared rubric's key/value states change nothing."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from annotations.parse import CATEGORIES  # noqa: E402
from annotations.probs import DIGITS, digits_from_top_logprobs, probs_fields  # noqa: E402
from backends.huggingface import HuggingFaceBackend  # noqa: E402
from backends.option_scores import ScoreJob  # noqa: E402
from harness.results import read_jsonl  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WORDS = ["Input", "Output", "number", "the", "tax", "is", "good", "vote", "why", "1", "2", "3",
         "4", "5", "6", "Refusal", "Bias", "technique", "(1-6)", "\"", "people", "think"]


def annotate_main():
    spec = importlib.util.spec_from_file_location("annotate_probs", REPO / "scripts" /
                                                  "annotate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def save_model(folder: Path, tok, vocab_size: int, pad_id: int) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    tok.save_pretrained(folder)
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(
        vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        pad_token_id=pad_id)).save_pretrained(folder)


def word_level_model(folder: Path) -> dict[str, int]:
    """A tokenizer that writes each digit as one token and nothing else ('3' only)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<pad>", "<unk>", ":", *WORDS])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<pad>")
    save_model(folder, tok, len(vocab), 0)
    return vocab


def byte_level_model(folder: Path) -> dict[str, int]:
    """A GPT-2 style byte-level BPE where a digit after ':' is '3' or ' 3' ('Ġ3'): two tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    corpus = [f"technique (1-6): {d}. technique (1-6):{d} Output" for d in DIGITS] * 50
    core.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<pad>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<pad>")
    vocab = tok.get_vocab()
    assert all(d in vocab and "Ġ" + d in vocab for d in DIGITS)
    save_model(folder, tok, len(vocab), vocab["<pad>"])
    return vocab


def generations(path: Path, n: int = 5) -> Path:
    responses = ["people think tax is good", "why vote", "", "tax tax tax is the good vote",
                 "I think \"6\" people"]
    path.write_text("".join(json.dumps({
        "id": i, "sample": 0, "backend": "m", "input": "why vote tax",
        "response": responses[i % len(responses)], "error": None, "label": "refusal",
        "task": "unsafe_questions", "original_input": "tax", "format_number": 0}) + "\n"
        for i in range(n)))
    return path


def direct_digit_probs(folder: Path, text: str, token_ids: list[list[int]]) -> list[float]:
    """The six digits' probabilities from one plain forward pass of the full text."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.inference_mode():
        logits = model(torch.tensor([tok(text)["input_ids"]])).logits[0, -1]
    p = torch.softmax(logits.float(), -1)
    return [float(p[ids].sum()) for ids in token_ids]


@pytest.mark.parametrize("build, variants", [(word_level_model, ("{d}",)),
                                             (byte_level_model, ("{d}", "Ġ{d}"))])
def test_annotate_probs_rows_equal_a_direct_computation(tmp_path, build, variants):
    folder = tmp_path / "tiny"
    vocab = build(folder)
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"tiny-judge": {
        "provider": "hf", "model_id": "tiny", "options": {"model_path": str(folder),
                                                           "dtype": "fp32"}}}))
    out = tmp_path / "ann.jsonl"
    argv = ["--judge", "tiny-judge", "--registry", str(registry), "--judge-mode", "probs",
            "--generations", str(generations(tmp_path / "gen.jsonl")), "--out", str(out),
            "--batch-size", "2", "--no-progress"]
    assert annotate_main()(argv) == 0
    rows = sorted(read_jsonl(out), key=lambda r: r["id"])  # written as batches finish
    assert [r["id"] for r in rows] == [0, 1, 2, 3, 4]
    expected_ids = {d: sorted(vocab[v.format(d=d)] for v in variants) for d in DIGITS}
    for row in rows:
        assert row["parse_status"] == "ok" and row["judge_mode"] == "probs"
        assert {d: sorted(ids) for d, ids in row["digit_token_ids"].items()} == expected_ids
        raw = direct_digit_probs(folder, row["judge_input"], list(expected_ids.values()))
        assert row["digit_mass"] == pytest.approx(sum(raw), rel=1e-5)
        probs = [row["judge_probs"][c] for c in CATEGORIES]
        assert probs == pytest.approx([p / sum(raw) for p in raw], abs=1e-6)
        assert sum(probs) == pytest.approx(1.0, abs=1e-6)
        assert row["final_category"] == CATEGORIES[max(range(6), key=lambda i: raw[i])]
        # the scored text is the whole prompt: the rubric, then this response
        assert row["judge_input"].endswith("(1-6):")
        assert f"Output: \"{row['response']}\"" in row["judge_input"]
    assert rows[2]["response"] == "No Response"

    # a rerun has nothing to do and leaves the rows as they are
    before = out.read_text()
    assert annotate_main()(argv) == 0
    assert out.read_text() == before


def test_shared_rubric_states_equal_a_full_pass(tmp_path):
    folder = tmp_path / "tiny"
    byte_level_model(folder)
    backend = HuggingFaceBackend("tiny", model_path=str(folder), dtype="fp32", batch_size=3)
    rubric = "technique (1-6): 1. technique (1-6): 2. Output " * 3
    texts = [rubric + tail + " technique (1-6):" for tail in
             ("3", "Output 4 5", "technique", "6 6 6 6", "Output: 1")]

    def read(prefix_cache: bool) -> dict[int, list[float]]:
        got = {}
        jobs = [ScoreJob(t, DIGITS, group="rubric") for t in texts]
        for batch in backend.option_logprobs(jobs, prefix_cache=prefix_cache):
            for i, s in batch:
                got[i] = s.logprobs
        return got

    shared, full = read(True), read(False)
    assert sorted(shared) == list(range(len(texts)))
    for i in range(len(texts)):
        assert [math.exp(x) for x in shared[i]] == pytest.approx(
            [math.exp(x) for x in full[i]], abs=1e-5)
    # the prefix pass really ran: the same scorer counts it
    from backends.option_scores import LocalScorer

    scorer = LocalScorer(backend.model, backend.tokenizer, batch_size=3)
    list(scorer.score([ScoreJob(t, DIGITS, group="rubric") for t in texts]))
    assert scorer.prefix_passes == 1


def test_option_logprobs_reads_each_prompts_own_options_in_its_own_group(tmp_path):
    """One call, prompts with different options and prefixes (as GlobalOpinionQA items have
    2 to 5 letters): each gets its own options' log-probabilities, as when scored alone."""
    folder = tmp_path / "tiny"
    byte_level_model(folder)
    backend = HuggingFaceBackend("tiny", model_path=str(folder), dtype="fp32", batch_size=2)
    head = "technique (1-6): 1. technique (1-6): 2. Output " * 3
    jobs = [ScoreJob(head + "3 technique (1-6):", DIGITS[:2], group="a"),
            ScoreJob(head + "Output technique (1-6):", DIGITS, group="a"),
            ScoreJob("Output 4 technique (1-6):", DIGITS[2:5], group=None),
            ScoreJob(head + "6 6 technique (1-6):", DIGITS[:4], group="a")]
    got = {i: s for batch in backend.option_logprobs(jobs) for i, s in batch}
    assert sorted(got) == [0, 1, 2, 3]
    for i, job in enumerate(jobs):
        assert list(got[i].token_ids) == list(job.letters)
        alone = [s for batch in backend.option_logprobs([job], prefix_cache=False)
                 for _, s in batch][0]
        assert got[i].probs == pytest.approx(alone.probs, abs=1e-5)


def test_top_logprobs_digits_sum_their_spellings_and_ignore_other_tokens():
    top = {"3": math.log(0.5), " 3": math.log(0.1), "1": math.log(0.2), "Sure": math.log(0.1),
           "33": math.log(0.05)}
    raw = digits_from_top_logprobs(top)
    assert raw == pytest.approx([0.2, 0, 0.6, 0, 0, 0])
    fields = probs_fields(raw)
    assert fields["final_category"] == "reasonable_pluralism"
    assert fields["digit_mass"] == pytest.approx(0.8)
    assert fields["judge_probs"]["refusal"] == pytest.approx(0.25)
    assert digits_from_top_logprobs({"Sure": -0.1}) is None
    # a tie goes to the lower digit, never to a guess between them
    assert probs_fields([0.5, 0.5, 0, 0, 0, 0])["final_category"] == "refusal"


def test_local_probs_judge_reuses_a_row_only_for_the_same_prompt_and_judge(tmp_path):
    """A local probability judge's output row is reused only for the same response, judge
    and mode: an edited response or a JSON judge's output stops the run in one line (the dry
    run too); --redo-stale scores again only the stale rows; rows written before the prompt
    hash are compared by their input and response."""
    from core.errors import UserError

    folder = tmp_path / "tiny"
    word_level_model(folder)
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"tiny-judge": {
        "provider": "hf", "model_id": "tiny", "options": {"model_path": str(folder),
                                                           "dtype": "fp32"}}}))
    gen = generations(tmp_path / "gen.jsonl", n=3)
    out = tmp_path / "ann.jsonl"
    argv = ["--judge", "tiny-judge", "--registry", str(registry), "--judge-mode", "probs",
            "--generations", str(gen), "--out", str(out), "--no-progress"]
    assert annotate_main()(argv) == 0
    first = {r["id"]: r for r in read_jsonl(out)}
    # a row written before the hash existed, same input and response: still done
    out.write_text("".join(json.dumps({k: v for k, v in r.items()
                                       if k != "judge_prompt_sha256"}) + "\n"
                           for r in first.values()))
    assert annotate_main()(argv) == 0
    rows = [json.loads(line) for line in gen.read_text().splitlines()]
    rows[1]["response"] = "why tax"
    gen.write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = out.read_text()
    for extra in ([], ["--dry-run"]):
        with pytest.raises(UserError, match=r"another prompt text \(1 row, first id 1"):
            annotate_main()([*argv, *extra])
    assert out.read_text() == before
    assert annotate_main()([*argv, "--redo-stale"]) == 0
    now = {r["id"]: r for r in read_jsonl(out)}
    assert now[1]["response"] == "why tax" and now[1]["judge_input"] != first[1]["judge_input"]
    assert now[0]["judge_input"] == first[0]["judge_input"]
    # a JSON judge's output is not a probability judge's
    json_rows = [{**r, "judge_mode": None} for r in now.values()]
    out.write_text("".join(json.dumps(r) + "\n" for r in json_rows))
    with pytest.raises(UserError, match="tiny-judge \\(json judge\\)' there"):
        annotate_main()(argv)
