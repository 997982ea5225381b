"""Benchmark: the local backend, batch 8 vs one prompt at a time, in generated tokens per second.

    python benchmarks/bench_local_batching.py                 # tiny random Llama built here
    python benchmarks/bench_local_batching.py --model smollm2 # the embedded SmolLM2 (CPU)

Both modes run through the real runner (run_requests -> HuggingFaceBackend -> JSONL), side by
side in one process, on the same prompts, greedy. Target: batched at least 3x faster.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from backends.base import GenerationParams
from backends.huggingface import HuggingFaceBackend
from backends.registry import create_backend
from harness.request import Request, RunOptions
from harness.results import ResultsStore, key_by, read_jsonl
from harness.runner import run_requests

TOPICS = ["taxes", "immigration", "gun control", "climate policy", "free speech", "healthcare",
          "minimum wage", "nuclear power", "school choice", "voting rights", "trade tariffs",
          "foreign aid", "policing", "housing", "abortion", "drug policy"]


def build_tiny_llama(folder: Path) -> None:
    """A random 2-layer Llama with a word-level tokenizer and a chat template."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    extra = ["what", "do", "you", "think", "about", "should", "the", "government", "change",
             "its", "policy", "on", "and", "why"]
    words = sorted({w for t in TOPICS for w in t.split()} | set(extra))
    vocab = {t: i for i, t in enumerate(["<pad>", "<s>", "</s>", "<unk>", ":", "user",
                                          "assistant", *words])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>",
                                  pad_token="<pad>", unk_token="<unk>")
    tok.chat_template = ("{% for m in messages %}<s> {{ m['role'] }} : {{ m['content'] }} </s> "
                         "{% endfor %}{% if add_generation_prompt %}<s> assistant : {% endif %}")
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, bos_token_id=1, eos_token_id=2,
                         pad_token_id=0)
    LlamaForCausalLM(config).save_pretrained(folder)


def requests(n: int) -> list[Request]:
    return [Request(key={"id": i, "sample": 0}, messages=[{"role": "user", "content":
            f"what do you think about {TOPICS[i % len(TOPICS)]} and why"}]) for i in range(n)]


def timed_run(backend: HuggingFaceBackend, batch: int, n: int, params: GenerationParams,
              folder: Path) -> tuple[float, int]:
    backend.preferred_batch_size = batch
    out = folder / f"batch{batch}.jsonl"
    t0 = time.perf_counter()
    with ResultsStore(out, key_by("id", "sample")) as store:
        run_requests(backend, requests(n), store, params,
                     RunOptions(concurrency=1, progress=False))
    wall = time.perf_counter() - t0
    tokens = sum(r["completion_tokens"] for r in read_jsonl(out))
    return wall, tokens


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["tiny", "smollm2"], default="tiny")
    p.add_argument("--prompts", type=int, default=64)
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3, help="runs of each mode (median kept)")
    args = p.parse_args()
    params = GenerationParams(temperature=0.0, max_tokens=args.max_tokens)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.model == "tiny":
            build_tiny_llama(folder / "model")
            backend = HuggingFaceBackend("tiny", model_path=str(folder / "model"), dtype="fp32")
        else:
            backend = create_backend("smollm2-135m-instruct")
        # warm-up both shapes, then alternate the two modes and keep each one's median
        backend.generate([r.messages for r in requests(args.batch_size)], params)
        backend.generate([requests(1)[0].messages], params)
        ones, bats = [], []
        for rep in range(args.repeats):
            ones.append(timed_run(backend, 1, args.prompts, params, folder / f"r{rep}"))
            bats.append(timed_run(backend, args.batch_size, args.prompts, params,
                                  folder / f"r{rep}"))
    one_wall, one_tok = sorted(ones)[len(ones) // 2]
    bat_wall, bat_tok = sorted(bats)[len(bats) // 2]
    one_rate, bat_rate = one_tok / one_wall, bat_tok / bat_wall
    print(f"model: {args.model}; {args.prompts} prompts, up to {args.max_tokens} new tokens, "
          f"greedy; median of {args.repeats} runs each")
    print(f"one at a time: {one_tok} tokens in {one_wall:.2f} s = {one_rate:.1f} tokens/s")
    print(f"batch {args.batch_size}:       {bat_tok} tokens in {bat_wall:.2f} s = "
          f"{bat_rate:.1f} tokens/s")
    print(f"speed-up: {bat_rate / one_rate:.2f}x (target >= 3x)")


if __name__ == "__main__":
    main()
