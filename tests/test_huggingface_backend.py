"""The local transformers backend on a tiny random Llama built here (no weights from a hub)."""

from __future__ import annotations

import asyncio

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from backends.base import GenerationParams  # noqa: E402
from backends.gguf_cache import MODEL_CACHE_ENV, converted_gguf_dir  # noqa: E402
from backends.huggingface import (  # noqa: E402
    HuggingFaceBackend,
    load_kwargs,
    quantization_config,
    split_reasoning,
)
from backends.registry import create_backend  # noqa: E402
from core.errors import UserError  # noqa: E402

WORDS = [
    "the", "a", "is", "what", "do", "you", "think", "about", "tax", "vote", "war", "peace",
    "people", "should", "law", "free", "speech", "guns", "health", "care", "climate", "good",
    "bad", "yes", "no", "maybe", "why", "how",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<s> {{ m['role'] }} : {{ m['content'] }} </s> {% endfor %}"
    "{% if add_generation_prompt %}<s> assistant : {% endif %}"
)


def build_tiny_model(folder, *, chat_template: str | None = CHAT_TEMPLATE) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<pad>", "<s>", "</s>", "<unk>", ":", "user",
                                          "assistant", "system", *WORDS])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>",
                                  pad_token="<pad>", unk_token="<unk>")
    if chat_template:
        tok.chat_template = chat_template
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256, bos_token_id=1, eos_token_id=2,
                         pad_token_id=0)
    LlamaForCausalLM(config).save_pretrained(folder)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-llama")
    build_tiny_model(folder)
    return folder


def prompts() -> list[list[dict[str, str]]]:
    texts = ["what do you think about tax", "vote", "should people have free speech why",
             "guns", "health care is good or bad what do you think", "climate"]
    return [[{"role": "user", "content": t}] for t in texts]


def test_batched_and_single_greedy_give_the_same_texts(tiny_dir):
    backend = HuggingFaceBackend("tiny", model_path=str(tiny_dir), dtype="fp32", batch_size=4)
    params = GenerationParams(temperature=0.0, max_tokens=12)
    batched = asyncio.run(backend.complete_batch(prompts(), params))
    single = [asyncio.run(backend.complete(m, params)) for m in prompts()]
    assert [c.text for c in batched] == [c.text for c in single]
    assert [c.completion_tokens for c in batched] == [c.completion_tokens for c in single]
    # prompt tokens count the prompt without padding: longer prompts, more tokens
    assert batched[0].prompt_tokens == single[0].prompt_tokens
    assert batched[4].prompt_tokens > batched[1].prompt_tokens
    assert all(c.finish_reason in ("stop", "length") for c in batched)
    assert any(c.text for c in batched)
    assert backend.preferred_batch_size == 4


def test_chat_template_is_applied_and_plain_text_without_one(tiny_dir, tmp_path):
    backend = HuggingFaceBackend("tiny", model_path=str(tiny_dir), dtype="fp32")
    msgs = [{"role": "user", "content": "vote"}]
    assert backend.prompt_text(msgs) == "<s> user : vote </s> <s> assistant : "
    build_tiny_model(tmp_path, chat_template=None)
    base = HuggingFaceBackend("tiny-base", model_path=str(tmp_path), dtype="fp32")
    assert base.prompt_text([{"role": "system", "content": "a"}, msgs[0]]) == "a\n\nvote"
    c = asyncio.run(base.complete(msgs, GenerationParams(max_tokens=3)))
    assert c.completion_tokens <= 3


def test_sampling_with_a_seed_is_reproducible(tiny_dir):
    backend = HuggingFaceBackend("tiny", model_path=str(tiny_dir), dtype="fp32", batch_size=2)
    params = GenerationParams(temperature=1.5, max_tokens=10, seed=7)
    a = asyncio.run(backend.complete_batch(prompts()[:2], params))
    b = asyncio.run(backend.complete_batch(prompts()[:2], params))
    other = asyncio.run(backend.complete_batch(prompts()[:2], GenerationParams(
        temperature=1.5, max_tokens=10, seed=8)))
    assert [c.text for c in a] == [c.text for c in b]
    assert [c.text for c in a] != [c.text for c in other]


def test_max_tokens_cut_is_reported_as_length(tiny_dir):
    backend = HuggingFaceBackend("tiny", model_path=str(tiny_dir), dtype="fp32")
    cs = asyncio.run(backend.complete_batch(prompts(), GenerationParams(max_tokens=2)))
    for c in cs:
        assert c.completion_tokens <= 2
        assert c.finish_reason == ("length" if c.completion_tokens == 2 else "stop")


def test_split_reasoning():
    assert split_reasoning("<think>\nweigh both sides\n</think>\n\nIt depends.") == (
        "weigh both sides", "It depends.")
    # R1's template opens the thought in the prompt: the output starts inside it
    assert split_reasoning("hmm, tricky</think>Answer") == ("hmm, tricky", "Answer")
    assert split_reasoning("<think>cut off before the end") == ("cut off before the end", "")
    assert split_reasoning("no thinking here") == (None, "no thinking here")


def test_four_bit_config_is_nf4_with_compute_dtype():
    qc = quantization_config("4bit", "bf16")
    assert isinstance(qc, transformers.BitsAndBytesConfig)
    assert qc.load_in_4bit and not qc.load_in_8bit
    assert qc.bnb_4bit_quant_type == "nf4"
    assert qc.bnb_4bit_compute_dtype == torch.bfloat16
    assert qc.bnb_4bit_use_double_quant
    assert quantization_config(None) is None


def test_load_kwargs_for_gpu_cpu_and_4bit():
    gpu = load_kwargs(dtype="bf16", quantization="4bit", cuda_available=True)
    assert gpu["device_map"] == "auto" and gpu["dtype"] == torch.bfloat16
    assert gpu["quantization_config"].bnb_4bit_quant_type == "nf4"
    cpu = load_kwargs(dtype="fp32", device="cpu", gguf_file="m.gguf", token="hf_x")
    assert cpu == {"dtype": torch.float32, "gguf_file": "m.gguf", "token": "hf_x"}
    with pytest.raises(UserError, match="CUDA"):
        load_kwargs(quantization="4bit", cuda_available=False)
    with pytest.raises(UserError, match="dtype"):
        load_kwargs(dtype="fp8")


def test_missing_model_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="cannot load model"):
        HuggingFaceBackend("nope", model_path=str(tmp_path / "missing"), dtype="fp32")


def test_embedded_gguf_is_converted_once_and_the_conversion_scores_the_same(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv(MODEL_CACHE_ENV, str(tmp_path))
    from_gguf = create_backend("smollm2-135m-instruct")  # reads the GGUF, keeps a conversion
    folders = list((tmp_path / "gguf").iterdir())
    assert len(folders) == 1 and (folders[0] / "model.safetensors").is_file()
    assert not any(p.name.startswith(folders[0].name + ".tmp") for p in folders)
    converted = create_backend("smollm2-135m-instruct")
    assert from_gguf.model.hf_quantizer is not None  # the first one really read the GGUF file
    assert getattr(converted.model, "hf_quantizer", None) is None  # a plain checkpoint
    text = from_gguf.prompt_text([{"role": "user", "content": "Is a tax cut a good idea?"}])
    assert converted.prompt_text([{"role": "user", "content": "Is a tax cut a good idea?"}]) == text
    ids = from_gguf.tokenizer(text, return_tensors="pt")
    assert converted.tokenizer(text, return_tensors="pt")["input_ids"].tolist() == \
        ids["input_ids"].tolist()
    with torch.inference_mode():
        a = from_gguf.model(**ids).logits[0, -1]
        b = converted.model(**ids).logits[0, -1]
    assert torch.equal(a, b)


def test_no_conversion_is_kept_when_the_cache_is_switched_off(tmp_path, monkeypatch):
    monkeypatch.setenv(MODEL_CACHE_ENV, "")
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    assert converted_gguf_dir(str(tmp_path), "m.gguf") is None
    monkeypatch.setenv(MODEL_CACHE_ENV, str(tmp_path / "cache"))
    first = converted_gguf_dir(str(tmp_path), "m.gguf")
    assert first is not None and first.parent == tmp_path / "cache" / "gguf"
    (tmp_path / "m.gguf").write_bytes(b"GGUF, changed")  # another file: another conversion
    assert converted_gguf_dir(str(tmp_path), "m.gguf") != first
