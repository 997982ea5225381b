"""Which tokens write an answer option right after a prompt, read from the model's tokenizer.

A local model's option log-probability is the log-sum-exp over every token that begins the
option as the tokenizer would write it after the prompt ('A', ' A', the first token of 'A.',
...). The ids come from the tokenizer at run time; the study hard-coded Llama-2's ids for
every model, which reads the wrong tokens for any other tokenizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.errors import UserError

#: how a letter may follow the prompt; only each variant's FIRST token is read
LETTER_VARIANTS = ("{L}", " {L}", "{L}.", " {L}.", "{L})", " {L})")
#: characters of the prompt's end that decide how a following letter is tokenized
TAIL_CHARS = 64


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def letter_token_ids(tokenizer: Any, prompt: str, letters: Sequence[str]
                     ) -> dict[str, tuple[int, ...]]:
    """letter -> ids of the tokens that can begin it right after `prompt`.

    For each way of writing the letter (LETTER_VARIANTS), the prompt and the prompt plus the
    letter are tokenized; where the prompt's tokens are unchanged (no merge across the
    boundary), the next token is a candidate, kept if its text begins with the letter and is
    part of what was written (so a bare ' ' or '\\n' token, shared by all letters, is not).
    """
    base = _encode(tokenizer, prompt)
    out: dict[str, tuple[int, ...]] = {}
    for letter in letters:
        ids: list[int] = []
        for variant in LETTER_VARIANTS:
            written = variant.format(L=letter)
            full = _encode(tokenizer, prompt + written)
            if len(full) <= len(base) or full[:len(base)] != base:
                continue  # the letter merged with the prompt's last token: not readable here
            tok = full[len(base)]
            text = tokenizer.decode([tok]).strip()
            if text and text[0] == letter and written.strip().startswith(text) \
                    and tok not in ids:
                ids.append(tok)
        if not ids:
            raise UserError(f"the tokenizer has no token that begins the letter {letter!r} "
                            f"after the prompt's end ({prompt[-30:]!r}); this model cannot be "
                            "read this way")
        out[letter] = tuple(ids)
    return out


class LetterTokens:
    """letter_token_ids, computed once per prompt ending (all prompts end alike)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._cache: dict[tuple[str, tuple[str, ...]], dict[str, tuple[int, ...]]] = {}

    def __call__(self, prompt: str, letters: Sequence[str]) -> dict[str, tuple[int, ...]]:
        key = (prompt[-TAIL_CHARS:], tuple(letters))
        if key not in self._cache:
            self._cache[key] = letter_token_ids(self.tokenizer, key[0], letters)
        return self._cache[key]
