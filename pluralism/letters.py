"""From next-token scores to a distribution over an item's answer letters.

Local models: a letter's log-probability is the log-sum-exp over every token that begins the
letter as the tokenizer would write it right after the prompt ('A', ' A', the first token of
'A.', ...). The token ids come from the tokenizer at run time (`LetterTokens`); the study
hard-coded Llama-2's ids for every model, which reads the wrong tokens for any other tokenizer.

API models give the top-k first tokens (`letters_from_top_logprobs`); letters missing from
the list get OpinionQA's share of the leftover mass (`fill_missing`), and the row is flagged;
the letter mass counts only the letters listed.
Providers with no log-probabilities are estimated from sampled answers (`letter_of_answer`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import UserError

#: how a letter may follow the prompt; only each variant's FIRST token is read
LETTER_VARIANTS = ("{L}", " {L}", "{L}.", " {L}.", "{L})", " {L})")
#: characters of the prompt's end that decide how a following letter is tokenized
TAIL_CHARS = 64
FLAG_IMPUTED = "missing_letters_imputed"
FLAG_NO_LETTER = "no_option_letter"
FLAG_SAMPLED = "sampled_estimate"
FLAG_REFUSED = "refused"


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


def logsumexp(values: Iterable[float]) -> float:
    vals = [v for v in values if v is not None and v != -math.inf]
    if not vals:
        return -math.inf
    hi = max(vals)
    return hi + math.log(sum(math.exp(v - hi) for v in vals))


@dataclass(frozen=True)
class RepDistribution:
    """One repetition: probabilities of the letters (raw), normalized, and the letters' mass."""

    raw: list[float]  # probability of each option letter, as read (imputed ones included)
    probs: list[float] | None  # normalized over the options; None: no letter at all
    letter_mass: float  # the share of next-token probability the letters held as read
    imputed: tuple[str, ...] = ()


def distribution(raw: Sequence[float], imputed: Sequence[str] = (),
                 held: float | None = None) -> RepDistribution:
    """Normalize `raw` over the options. `held`: the mass the letters actually held, when
    some of `raw` are imputed fills (which would overstate it); default sum(raw)."""
    raw = [max(0.0, float(p)) for p in raw]
    total = sum(raw)
    probs = [p / total for p in raw] if total > 0 else None
    mass = total if held is None else max(0.0, float(held))
    return RepDistribution(raw=raw, probs=probs, letter_mass=mass, imputed=tuple(imputed))


_LETTER_TOKEN = re.compile(r"^\s*[(\[*]*([A-Z])(?![A-Za-z0-9])")


def token_letter(token: str, letters: Sequence[str]) -> str | None:
    """The option letter a top-k token stands for ('A', ' A', 'A.', '(A'), or None ('An')."""
    m = _LETTER_TOKEN.match(token)
    return m.group(1) if m and m.group(1) in letters else None


def fill_missing(letter_probs: dict[str, float], listed: Sequence[float],
                 letters: Sequence[str]) -> tuple[dict[str, float], list[str]]:
    """OpinionQA's rule for letters absent from a top-k list: each gets the smaller of the
    smallest probability listed and the mass outside the list divided by the number missing
    (a token not listed cannot be likelier than the least likely listed one)."""
    missing = [c for c in letters if c not in letter_probs]
    if not missing or not listed:
        return dict(letter_probs), []
    leftover = max(0.0, 1.0 - sum(listed))
    fill = min(min(listed), leftover / len(missing))
    return {**letter_probs, **{c: fill for c in missing}}, missing


def letters_from_top_logprobs(top: dict[str, float] | None, letters: Sequence[str]
                              ) -> RepDistribution | None:
    """A top-k {token: logprob} list -> the letters' distribution; None when no option
    letter is among the listed tokens (nothing to impute from)."""
    if not top:
        return None
    found: dict[str, float] = {}
    for token, lp in top.items():
        letter = token_letter(token, letters)
        if letter is not None:
            found[letter] = found.get(letter, 0.0) + math.exp(lp)
    if not found:
        return None
    listed = [math.exp(lp) for lp in top.values()]
    filled, imputed = fill_missing(found, listed, letters)
    # letter mass: only what the listed letters held; the fills are a guess, flagged
    return distribution([filled[c] for c in letters], imputed, held=sum(found.values()))


_ANSWER = re.compile(r"^\s*(?:answer(?:\s+choice)?\s*:?\s*)?[(\[*\"']*([A-Z])(?![A-Za-z0-9])",
                     re.I)


def letter_of_answer(text: str | None, letters: Sequence[str]) -> str | None:
    """The option letter a sampled answer starts with ('B', ' (B)', 'B. Moderately'), or None."""
    if not text:
        return None
    m = _ANSWER.match(text)
    if not m or not m.group(1).isupper():
        return None
    return m.group(1) if m.group(1) in letters else None


def letters_from_samples(texts: Sequence[str | None], letters: Sequence[str]
                         ) -> RepDistribution:
    """Shares of sampled answers per letter; answers without a letter lower the mass."""
    counts = dict.fromkeys(letters, 0)
    for t in texts:
        letter = letter_of_answer(t, letters)
        if letter is not None:
            counts[letter] += 1
    n = max(1, len(texts))
    return distribution([counts[c] / n for c in letters])
