"""Which tokens write an answer option right after a prompt, read from the model's tokenizer.

A local model's option log-probability is the log-sum-exp over every token that begins the
option as the tokenizer would write it after the prompt ('A', ' A', the first token of 'A.',
...), plus, where the tokenizer writes ' 3' as a space token and then '3' (SentencePiece has no
'▁3'), the path through that space token (OptionTokens). The ids come from the tokenizer at
run time; the study hard-coded Llama-2's ids for every model, which reads the wrong tokens for
any other tokenizer. `option_tokens` works for any short option written after a prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import UserError

#: how a letter may follow the prompt; only each variant's FIRST token is read
LETTER_VARIANTS = ("{L}", " {L}", "{L}.", " {L}.", "{L})", " {L})")
#: characters of the prompt's end that decide how a following letter is tokenized
TAIL_CHARS = 64


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


@dataclass(frozen=True)
class OptionTokens:
    """The tokens that can begin each option right after a prompt (`first`), and the path
    through a space token: where the tokenizer writes ' 3' as a whitespace-only token and
    then '3' (SentencePiece vocabularies such as Llama-2's and Mistral's have '▁' and '3' but
    no '▁3'), that token (`space_id`) and the tokens that begin each option after it
    (`after_space`). A chat model there usually writes the space first, so an option's
    probability is P(first) + P(space) x P(option after the space)."""

    first: dict[str, tuple[int, ...]]
    space_id: int | None = None
    after_space: dict[str, tuple[int, ...]] = field(default_factory=dict)


def _text(tokenizer: Any, token: int) -> str:
    return tokenizer.decode([token]).strip()


def _begins(text: str, option: str, written: str) -> bool:
    """Whether a token's text begins the option as written (not a bare space or newline)."""
    return bool(text) and text[0] == option[0] and written.strip().startswith(text)


def option_tokens(tokenizer: Any, prompt: str, options: Sequence[str]) -> OptionTokens:
    """Which tokens begin each option after `prompt` (see OptionTokens), from the tokenizer.

    For each way of writing the option (LETTER_VARIANTS), the prompt and the prompt plus the
    option are tokenized; where the prompt's tokens are unchanged (no merge across the
    boundary), the next token counts if its text begins the option; a next token that is only
    whitespace, followed by one that begins the option, is the space path.
    """
    base = _encode(tokenizer, prompt)
    first: dict[str, list[int]] = {}
    after: dict[int, dict[str, list[int]]] = {}  # space token -> option -> ids after it
    for option in options:
        ids = first.setdefault(option, [])
        for variant in LETTER_VARIANTS:
            written = variant.format(L=option)
            full = _encode(tokenizer, prompt + written)
            if len(full) <= len(base) or full[:len(base)] != base:
                continue  # the option merged with the prompt's last token: not readable here
            new = full[len(base):]
            if _begins(_text(tokenizer, new[0]), option, written):
                if new[0] not in ids:
                    ids.append(new[0])
            elif (len(new) > 1 and not _text(tokenizer, new[0])
                  and _begins(_text(tokenizer, new[1]), option, written)):
                path = after.setdefault(new[0], {}).setdefault(option, [])
                if new[1] not in path:
                    path.append(new[1])
    # one space token per prompt ending (the one most options are written after)
    space_id = max(after, key=lambda t: len(after[t]), default=None)
    after_space = after.get(space_id, {}) if space_id is not None else {}
    for option in options:
        if not first[option] and option not in after_space:
            raise UserError(f"the tokenizer has no token that begins the letter {option!r} "
                            f"after the prompt's end ({prompt[-30:]!r}); this model cannot be "
                            "read this way")
    return OptionTokens({o: tuple(v) for o, v in first.items() if v}, space_id,
                        {o: tuple(v) for o, v in after_space.items()})


def letter_token_ids(tokenizer: Any, prompt: str, letters: Sequence[str]
                     ) -> dict[str, tuple[int, ...]]:
    """letter -> ids of the tokens that can begin it right after `prompt` (option_tokens'
    `first`); a letter only the space path writes is an error here."""
    tokens = option_tokens(tokenizer, prompt, letters)
    for letter in letters:
        if letter not in tokens.first:
            raise UserError(f"the tokenizer has no token that begins the letter {letter!r} "
                            f"right after the prompt's end ({prompt[-30:]!r}); this model "
                            "cannot be read this way")
    return tokens.first


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
    """option_tokens (or, for answer words, word_token_ids with no space path), computed once
    per prompt ending (all prompts end alike)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._cache: dict[tuple[str, tuple[str, ...], bool], OptionTokens] = {}

    def paths(self, prompt: str, letters: Sequence[str], words: bool = False) -> OptionTokens:
        key = (prompt[-TAIL_CHARS:], tuple(letters), words)
        if key not in self._cache:
            # a word is read whole in every casing and spacing ('\u2581Yes' is one token), so
            # it needs no path through a bare space token
            self._cache[key] = (OptionTokens(word_token_ids(self.tokenizer, key[0], letters))
                                if words else option_tokens(self.tokenizer, key[0], letters))
        return self._cache[key]

    def __call__(self, prompt: str, letters: Sequence[str], words: bool = False
                 ) -> dict[str, tuple[int, ...]]:
        return self.paths(prompt, letters, words).first
