"""From next-token scores to a distribution over an item's answer letters.

Local models: each letter's log-probability is read exactly by the backend
(`backends.option_tokens` finds the tokens that write it after the prompt).

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

FLAG_IMPUTED = "missing_letters_imputed"
FLAG_NO_LETTER = "no_option_letter"
FLAG_SAMPLED = "sampled_estimate"
FLAG_REFUSED = "refused"


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
