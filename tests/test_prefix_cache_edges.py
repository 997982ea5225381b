"""The shared-prefix states never swallow a prompt whole (issue 23, item 6): two identical
prompts in one group, and a prompt that is a token prefix of another, score the same with and
without the prefix cache, on a word-level tokenizer and on a SentencePiece one (whose digits
are read one token further, after the space token)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from backends.option_scores import MIN_PREFIX_TOKENS, LocalScorer, ScoreJob  # noqa: E402
from tests.distribution_helpers import build_letter_model  # noqa: E402
from tests.test_probs_judge_sentencepiece import LLAMA2_CHAT, sentencepiece_llama  # noqa: E402

WORD_PROMPT = ("Here is a statement about you How well does this describe you Pick one "
               "option Answer Choice")
SP_PROMPT = "[INST] Which technique did the response use ? Reply with one digit . [/INST]"


def letter_model(folder: Path) -> tuple[str, tuple[str, ...], str]:
    build_letter_model(folder)
    return WORD_PROMPT, ("A", "B", "C", "D", "E"), " Yes the"


def digit_model(folder: Path) -> tuple[str, tuple[str, ...], str]:
    sentencepiece_llama(folder, LLAMA2_CHAT)
    return SP_PROMPT, ("1", "2", "3", "4", "5", "6"), " [INST] why vote ? [/INST]"


@pytest.mark.parametrize("build", [letter_model, digit_model])
def test_identical_prompts_and_a_prompt_prefix_of_another_score_as_without_the_cache(
        tmp_path, build):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prompt, letters, more = build(tmp_path / "model")
    tok = AutoTokenizer.from_pretrained(tmp_path / "model")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "model",
                                                 dtype=torch.float32).eval()
    longer = prompt + more
    short_ids = tok(prompt)["input_ids"]
    assert tok(longer)["input_ids"][:len(short_ids)] == short_ids  # a token prefix of it
    assert len(short_ids) > MIN_PREFIX_TOKENS  # long enough to be shared
    jobs = [ScoreJob(prompt, letters, group="same"), ScoreJob(prompt, letters, group="same"),
            ScoreJob(prompt, letters, group="prefix"), ScoreJob(longer, letters, group="prefix")]

    def scores(prefix_cache: bool) -> dict[int, list[float]]:
        scorer = LocalScorer(model, tok, batch_size=4, prefix_cache=prefix_cache)
        got = {i: s.probs for batch in scorer.score(jobs) for i, s in batch}
        assert scorer.prefix_passes == (2 if prefix_cache else 0)
        return got

    plain, cached = scores(False), scores(True)
    assert sorted(cached) == [0, 1, 2, 3]
    for i in range(4):
        assert cached[i] == pytest.approx(plain[i], rel=1e-5, abs=1e-7), i
    assert plain[0] == pytest.approx(plain[2], rel=1e-5)  # one prompt, one answer
    assert plain[3] != pytest.approx(plain[2], rel=1e-3)  # the longer prompt differs
