"""Option log-probabilities from a local transformers model: one forward pass per prompt.

Both studies read a next-token distribution over a few options: the MPI and GlobalOpinionQA
answer letters (pluralism.collect) and the probability judge's six category digits
(annotations.probs). No generate(): the distribution is the model's next-token distribution
after the prompt, so one forward pass gives it. Prompts are batched; with `prefix_cache` (the
default) prompts that share a prefix (the same drawn in-context examples; the judge's rubric)
share the key/value states of their common TOKEN prefix: it is run once, and each prompt runs
only its own remaining tokens on top of a copy of those states. The split point is where the
prompts' own full tokenizations stop agreeing, so every prompt sees exactly the tokens a plain
forward pass of its full text sees; the results equal a plain pass up to float rounding.

Batches are left-padded with position ids counted from each prompt's first real token, so a
padded prompt scores as it would alone. Where the tokenizer writes an option after a space
token ('▁' then '3': SentencePiece has no '▁3'), that token is appended to the prompt and the
last two positions are read, so one pass gives P('3') + P('▁') x P('3' after '▁')
(backends.option_tokens.OptionTokens).
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from backends.option_tokens import LetterTokens

#: a shared prefix shorter than this is not worth a separate pass
MIN_PREFIX_TOKENS = 8
TOP_TOKENS = 5


@dataclass(frozen=True)
class ScoreJob:
    """One prompt to score: its text, its letters, and what it shares with others."""

    text: str
    letters: tuple[str, ...]
    group: str | None = None  # prompts with the same group may share a prefix
    #: the options are words ("Yes", "No"), read in every casing (option_tokens.word_token_ids)
    words: bool = False


@dataclass(frozen=True)
class LetterScores:
    logprobs: list[float]  # per letter: log-sum-exp of its tokens' log-probabilities
    token_ids: dict[str, tuple[int, ...]]
    top_tokens: list[tuple[str, float]]  # the likeliest next tokens (text, probability)
    #: the space path (backends.option_tokens.OptionTokens), where the tokenizer has one
    space_id: int | None = None
    after_space: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def probs(self) -> list[float]:
        return [math.exp(lp) for lp in self.logprobs]

    def space_path(self) -> dict[str, Any] | None:
        """A row's record of the path through a space token ('▁' then '3'), or None: each
        option's probability adds P(space) x P(option after it)."""
        if self.space_id is None:
            return None
        return {"space_id": self.space_id,
                "token_ids": {c: list(v) for c, v in self.after_space.items()}}


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix all sequences share."""
    if not seqs:
        return 0
    n = min(len(s) for s in seqs)
    first = seqs[0]
    for i in range(n):
        t = first[i]
        if any(s[i] != t for s in seqs):
            return i
    return n


class LocalScorer:
    """Scores prompts on a loaded causal LM (and its tokenizer)."""

    def __init__(self, model: Any, tokenizer: Any, *, batch_size: int = 8,
                 prefix_cache: bool = True, add_special_tokens: bool = True) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = max(1, int(batch_size))
        self.prefix_cache = prefix_cache
        self.add_special_tokens = add_special_tokens
        self.letter_tokens = LetterTokens(tokenizer)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (tokenizer.eos_token_id or 0)
        self._keep_arg = True  # does the model take logits_to_keep?
        self.prefix_passes = 0  # shared prefixes run (for tests and the benchmark)
        # transformers 5.x calls the key/value states `cache`; 4.x `past_key_values`
        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=self.add_special_tokens)["input_ids"])

    # ---- scoring ------------------------------------------------------------------------
    def score(self, jobs: Sequence[ScoreJob]) -> Iterator[list[tuple[int, LetterScores]]]:
        """Yield (job index, scores) lists, one per forward batch, as they finish."""
        # where an option may follow a space token ('▁' then '3'), that token is appended and
        # the last two positions are read: the prompt's next token, and the one after '▁'
        spaces = [self.letter_tokens.paths(j.text, j.letters, j.words).space_id for j in jobs]
        ids = [self.encode(j.text) + ([s] if s is not None else [])
               for j, s in zip(jobs, spaces, strict=True)]
        if not self.prefix_cache:
            yield from self._plain(jobs, ids, list(range(len(jobs))))
            return
        groups: dict[Any, list[int]] = {}
        for i, job in enumerate(jobs):
            groups.setdefault(job.group if job.group is not None else ("solo", i), []).append(i)
        leftovers: list[int] = []
        for members in groups.values():
            p = common_prefix_len([ids[i] for i in members]) if len(members) > 1 else 0
            # every prompt keeps the tokens whose positions are read
            keep = 2 if any(spaces[i] is not None for i in members) else 1
            p = min(p, min(len(ids[i]) for i in members) - keep)
            if p < MIN_PREFIX_TOKENS:
                leftovers.extend(members)
                continue
            yield from self._with_prefix(jobs, ids, members, p)
        if leftovers:
            yield from self._plain(jobs, ids, leftovers)

    def _plain(self, jobs: Sequence[ScoreJob], ids: list[list[int]], idx: list[int]
               ) -> Iterator[list[tuple[int, LetterScores]]]:
        import torch

        idx = sorted(idx, key=lambda i: len(ids[i]))  # similar lengths: little padding
        for start in range(0, len(idx), self.batch_size):
            chunk = idx[start:start + self.batch_size]
            width = max(len(ids[i]) for i in chunk)
            input_ids = torch.full((len(chunk), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for r, i in enumerate(chunk):
                n = len(ids[i])
                input_ids[r, width - n:] = torch.tensor(ids[i])
                mask[r, width - n:] = 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = self._last_logits(input_ids, mask, positions, None)
            yield self._read(jobs, chunk, logits)

    def _with_prefix(self, jobs: Sequence[ScoreJob], ids: list[list[int]], members: list[int],
                     p: int) -> Iterator[list[tuple[int, LetterScores]]]:
        import torch

        device = self.device
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([ids[members[0]][:p]], device=device),
                             use_cache=True)
        self.prefix_passes += 1
        prefix_states = getattr(out, "cache", None)
        if prefix_states is None:
            prefix_states = out.past_key_values
        members = sorted(members, key=lambda i: len(ids[i]))
        for start in range(0, len(members), self.batch_size):
            chunk = members[start:start + self.batch_size]
            rest = [ids[i][p:] for i in chunk]
            width = max(len(r) for r in rest)
            input_ids = torch.full((len(chunk), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), p + width), dtype=torch.long)
            mask[:, :p] = 1
            for r, toks in enumerate(rest):
                input_ids[r, width - len(toks):] = torch.tensor(toks)
                mask[r, p + width - len(toks):] = 1
            # positions continue from the prefix, counting only each prompt's real tokens
            positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, p:]
            states = copy.deepcopy(prefix_states)
            states.batch_repeat_interleave(len(chunk))
            logits = self._last_logits(input_ids, mask, positions, states)
            yield self._read(jobs, chunk, logits)

    def _last_logits(self, input_ids: Any, mask: Any, positions: Any, states: Any) -> Any:
        """Float32 logits of the last two positions of each row (rows are left-padded)."""
        import torch

        device = self.device
        kwargs: dict[str, Any] = {
            "input_ids": input_ids.to(device), "attention_mask": mask.to(device),
            "position_ids": positions.to(device),
        }
        if states is not None:
            kwargs.update({self._cache_arg: states, "use_cache": True})
        else:
            kwargs["use_cache"] = False
        with torch.inference_mode():
            if self._keep_arg:
                try:
                    return self.model(**kwargs, logits_to_keep=2).logits[:, -2:].float()
                except TypeError:
                    self._keep_arg = False
            return self.model(**kwargs).logits[:, -2:].float()

    def _read(self, jobs: Sequence[ScoreJob], chunk: list[int], logits: Any
              ) -> list[tuple[int, LetterScores]]:
        import torch

        logp = torch.log_softmax(logits, dim=-1).cpu()
        results = []
        for r, i in enumerate(chunk):
            job = jobs[i]
            paths = self.letter_tokens.paths(job.text, job.letters, job.words)
            space = paths.space_id
            # the prompt's next-token row; after the appended space token, the row after it
            row = logp[r, -2] if space is not None else logp[r, -1]
            lps = [_logsumexp(row, paths.first.get(c)) for c in job.letters]
            if space is not None:
                lps = [_log_add(lp, float(row[space])
                                + _logsumexp(logp[r, -1], paths.after_space.get(c)))
                       for lp, c in zip(lps, job.letters, strict=True)]
            top = torch.topk(row, TOP_TOKENS)
            top_tokens = [(self.tokenizer.decode([int(t)]), round(math.exp(float(v)), 6))
                          for v, t in zip(top.values, top.indices, strict=True)]
            results.append((i, LetterScores(lps, paths.first, top_tokens, space,
                                            paths.after_space)))
        return results


def _logsumexp(logp: Any, ids: Sequence[int] | None) -> float:
    """log of the summed probabilities of tokens `ids` in a log-probability row (-inf: none)."""
    import torch

    return float(torch.logsumexp(logp[list(ids)], dim=0)) if ids else -math.inf


def _log_add(a: float, b: float) -> float:
    """log(exp(a) + exp(b))."""
    if a == -math.inf or b == -math.inf:
        return max(a, b)
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))
