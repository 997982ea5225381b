"""Tiny models, tokenizers and data files for the distribution-collection tests."""

from __future__ import annotations

import csv
import json
from pathlib import Path

WORDS = ["Answer", "Choice", "Here", "is", "a", "statement", "about", "you", "How", "well",
         "does", "this", "describe", "Pick", "one", "option", "Very", "accurate", "Question",
         "Moderately", "Neither", "nor", "inaccurate", "Yes", "No", "Maybe", "the", "do", "?"]
LETTERS = ["A", "B", "C", "D", "E", "F", "G"]


def build_letter_model(folder: Path) -> Path:
    """A tiny random Llama whose word-level tokenizer knows the answer letters."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<pad>", "<s>", "</s>", "<unk>", ":", ".", '"',
                                          *LETTERS, *WORDS])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>",
                                  pad_token="<pad>", unk_token="<unk>")
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=1024, bos_token_id=1, eos_token_id=2,
                         pad_token_id=0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def tiny_registry(path: Path, model_dir: Path, name: str = "tiny-local") -> Path:
    """A registry file naming the tiny model as a local backend."""
    path.write_text(json.dumps({name: {
        "provider": "hf", "model_id": str(model_dir),
        "defaults": {"temperature": 0.0, "max_tokens": 8},
        "options": {"dtype": "fp32", "device": "cpu"}}}))
    return path


def write_globalqa_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    """A CSV in the hub dataset's layout (question, selections, options, source)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["question", "selections", "options", "source"])
        w.writeheader()
        for r in rows:
            w.writerow({"source": "GAS", **r})
    return path


def selections(d: dict[str, list[float]]) -> str:
    return f"defaultdict(<class 'list'>, {d!r})"


GLOBALQA_ROWS = [
    {"question": "Do you like tea?", "options": "['Yes', 'No']",
     "selections": selections({"United States": [0.6, 0.4], "Japan": [0.8, 0.2],
                               "Germany": [0.5, 0.5]})},
    {"question": "Only asked in Germany?", "options": "['Yes', 'No']",
     "selections": selections({"Germany": [0.3, 0.7]})},
    {"question": "How often do you cook?", "options": "['Often', 'Sometimes', 'Never']",
     "selections": selections({"United States": [0.5, 0.3, 0.2],
                               "Japan": [0.4, 0.4, 0.2]})},
    {"question": "Broken lengths?", "options": "['Yes', 'No', 'Maybe']",
     "selections": selections({"United States": [0.5, 0.5], "Japan": [0.1, 0.9]})},
    {"question": "Not a literal", "options": "__import__('os').system('echo hi')",
     "selections": selections({"United States": [1.0], "Japan": [1.0]})},
]
