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


#: how an answer word may follow the prompt ("Yes", " Yes", "yes", "YES" ...); each variant's
#: FIRST token is read, as for letters (SentencePiece writes " Yes" as "▁Yes")
WORD_VARIANTS = ("{W}", " {W}", "{w}", " {w}", "{U}", " {U}")


def word_token_ids(tokenizer: Any, prompt: str, words: Sequence[str]
                   ) -> dict[str, tuple[int, ...]]:
    """word -> ids of the tokens that write it right after `prompt` (e.g. "Yes", "No").

    As `letter_token_ids`, for every casing and leading space of the word (WORD_VARIANTS):
    each variant's first token counts when it writes the whole word ('Yes', ' yes',
    '\u2581Yes'). A variant the tokenizer splits ('YES' -> 'Y', 'ES') adds nothing, since
    its first piece also begins other words ('You'); only when no variant is one token are
    first pieces read, and then none that begins another answer too.
    """
    base = _encode(tokenizer, prompt)
    whole: dict[str, list[int]] = {w: [] for w in words}
    pieces: dict[str, list[int]] = {w: [] for w in words}
    texts: dict[int, str] = {}
    for word in words:
        for variant in WORD_VARIANTS:
            written = variant.format(W=word, w=word.lower(), U=word.upper())
            full = _encode(tokenizer, prompt + written)
            if len(full) <= len(base) or full[:len(base)] != base:
                continue
            tok = full[len(base)]
            text = tokenizer.decode([tok]).strip().lstrip("\u2581").lower()
            texts[tok] = text
            found = whole[word] if text == word.lower() else pieces[word]
            if text and word.lower().startswith(text) and tok not in found:
                found.append(tok)
    out = {}
    for word in words:
        others = [w.lower() for w in words if w != word]
        ids = whole[word] or [t for t in pieces[word]
                              if not any(o.startswith(texts[t]) for o in others)]
        if not ids:
            raise UserError(f"the tokenizer has no token that begins the answer {word!r} "
                            f"after the prompt's end ({prompt[-30:]!r}); this model cannot be "
                            "read this way")
        out[word] = tuple(ids)
    return out


class LetterTokens:
    """letter_token_ids (or word_token_ids), computed once per prompt ending (all prompts
    end alike)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._cache: dict[tuple[str, tuple[str, ...], bool], dict[str, tuple[int, ...]]] = {}

    def __call__(self, prompt: str, letters: Sequence[str], words: bool = False
                 ) -> dict[str, tuple[int, ...]]:
        key = (prompt[-TAIL_CHARS:], tuple(letters), words)
        if key not in self._cache:
            read = word_token_ids if words else letter_token_ids
            self._cache[key] = read(self.tokenizer, key[0], letters)
        return self._cache[key]
