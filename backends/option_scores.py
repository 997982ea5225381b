"""Option log-probabilities from a local transformers model: one forward pass per prompt.

Both studies read a next-token distribution over a few options: the MPI and GlobalOpinionQA
answer letters (pluralism.collect) and the probability judge's six category digits
(annotations.probs). No generate(): the distribution is the model's next-token distribution
after the prompt, so one forward pass gives it. Prompts are batched; with `prefix_cache` (the
default) prompts of one group share the key/value states of their common TOKEN prefixes, as a
tree: the group's common prefix is run once; where the prompts part (a steering sentence for
each target, then each worked example's drawn answer: 5 x 4 x 3 branches for MPI), each branch
runs only its own tokens on top of a copy of its parent's states, and each prompt runs only
what it shares with no other prompt. Split points are where the prompts' own full
tokenizations stop agreeing, so every prompt sees exactly the tokens a plain forward pass of
its full text sees; the results equal a plain pass up to float rounding.

Batches are left-padded with position ids counted from each prompt's first real token, so a
padded prompt scores as it would alone. Where the tokenizer writes an option after a space
token ('▁' then '3': SentencePiece has no '▁3'), that token is appended to the prompt and the
last two positions are read, so one pass gives P('3') + P('▁') x P('3' after '▁')
(backends.option_tokens.OptionTokens); every prompt then keeps two tokens of its own.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from backends.option_tokens import LetterTokens

#: a shared prefix (or a branch's shared part) shorter than this is not worth a separate pass
MIN_PREFIX_TOKENS = 8
#: prompts that run only their own tail on a shared prefix are short: this many times the
#: batch size of full prompts go in one pass (a CPU multiplies small matrices slowly)
TAIL_BATCH_FACTOR = 4
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


def state_tensors(states: Any) -> list[tuple[Any, Any]]:
    """Each layer's (keys, values) of a key/value cache (transformers 5.x or 4.x)."""
    if hasattr(states, "layers"):
        return [(layer.keys, layer.values) for layer in states.layers]
    return list(zip(states.key_cache, states.value_cache, strict=True))


def cache_from(layers: Sequence[tuple[Any, Any]]) -> Any:
    """A key/value cache holding each layer's (keys, values)."""
    from transformers import DynamicCache

    cache = DynamicCache()
    for n, (k, v) in enumerate(layers):
        cache.update(k, v, n)
    return cache


def stack_states(entries: Sequence[tuple[Any, int]], length: int) -> Any:
    """One batch's cache from single-prompt caches of `p` tokens each, left-padded with
    zeros to `length` (the attention mask hides the padding)."""
    import torch

    layers = [state_tensors(s) for s, _ in entries]
    stacked = []
    for n in range(len(layers[0])):
        keys, values = [], []
        for (_, p), layer in zip(entries, layers, strict=True):
            k, v = layer[n]
            pad = length - p
            keys.append(torch.nn.functional.pad(k, (0, 0, pad, 0)) if pad else k)
            values.append(torch.nn.functional.pad(v, (0, 0, pad, 0)) if pad else v)
        stacked.append((torch.cat(keys), torch.cat(values)))
    return cache_from(stacked)


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
        self.prefix_passes = 0  # passes that ran groups' shared prefixes (tests, benchmark)
        self.branch_passes = 0  # shared parts run below a group's prefix (the tree's branches)
        self.tail_batch = self.batch_size * TAIL_BATCH_FACTOR
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
        # the tokens each prompt keeps of its own: those whose positions are read
        keeps = [2 if s is not None else 1 for s in spaces]
        if not self.prefix_cache:
            yield from self._plain(jobs, ids, list(range(len(jobs))))
            return
        groups: dict[Any, list[int]] = {}
        for i, job in enumerate(jobs):
            groups.setdefault(job.group if job.group is not None else ("solo", i), []).append(i)
        leftovers: list[int] = []
        pending: list[tuple[int, Any, int]] = []  # prompts waiting for a batch
        for members in groups.values():
            yield from self._tree(jobs, ids, keeps, members, 0, None, leftovers, pending)
        while pending:
            yield from self._on_stacked(jobs, ids, pending[:self.tail_batch])
            del pending[:self.tail_batch]
        if leftovers:
            yield from self._plain(jobs, ids, leftovers)

    @staticmethod
    def _shared_len(ids: list[list[int]], keeps: list[int], members: list[int]) -> int:
        """Tokens all members share, leaving each the tokens it must run itself (`keeps`:
        the positions read)."""
        if len(members) < 2:
            return 0
        p = common_prefix_len([ids[i] for i in members])
        return min(p, min(len(ids[i]) - keeps[i] for i in members))

    def _tree(self, jobs: Sequence[ScoreJob], ids: list[list[int]], keeps: list[int],
              members: list[int], start: int, states: Any, plain: list[int],
              pending: list[tuple[int, Any, int]]) -> Iterator[list[tuple[int, LetterScores]]]:
        """Score `members`, which share their first `start` tokens (`states`; None: none).

        Members that go on alike form a branch, whose shared part is run once on a copy of
        `states` when it saves at least MIN_PREFIX_TOKENS tokens; the rest wait in `pending`
        to run their own remaining tokens on `states`, in batches that may mix branches (at
        the root: added to `plain`)."""
        branches: dict[int, list[int]] = {}
        for i in members:
            branches.setdefault(ids[i][start], []).append(i)
        rest: list[int] = []
        shared: list[tuple[list[int], int]] = []
        for branch in branches.values():
            p = self._shared_len(ids, keeps, branch)
            if (len(branch) - 1) * (p - start) < MIN_PREFIX_TOKENS:
                rest.extend(branch)
            else:
                shared.append((branch, p))
        if shared:  # every branch's shared part in one pass
            children = self._extend_all(states, start,
                                        [ids[b[0]][start:p] for b, p in shared])
            if states is None:
                self.prefix_passes += 1
            else:
                self.branch_passes += len(shared)
            for (branch, p), child in zip(shared, children, strict=True):
                yield from self._tree(jobs, ids, keeps, branch, p, child, plain, pending)
        if rest and states is None:
            plain.extend(rest)
        elif rest:
            pending.extend((i, states, start) for i in rest)
            while len(pending) >= self.tail_batch:
                yield from self._on_stacked(jobs, ids, pending[:self.tail_batch])
                del pending[:self.tail_batch]

    def _on_stacked(self, jobs: Sequence[ScoreJob], ids: list[list[int]],
                    entries: list[tuple[int, Any, int]]
                    ) -> Iterator[list[tuple[int, LetterScores]]]:
        """One batch of prompts, each on its own prefix states (job index, states, prefix
        length): the states are left-padded to one length and stacked, the padding masked,
        so a batch is full however the tree branched."""
        import torch

        width_p = max(p for _, _, p in entries)
        rest = [ids[i][p:] for i, _, p in entries]
        width = max(len(r) for r in rest)
        input_ids = torch.full((len(entries), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(entries), width_p + width), dtype=torch.long)
        for r, ((_, _, p), toks) in enumerate(zip(entries, rest, strict=True)):
            mask[r, width_p - p:width_p] = 1
            input_ids[r, width - len(toks):] = torch.tensor(toks)
            mask[r, width_p + width - len(toks):] = 1
        # positions continue from each prompt's own prefix, counting only real tokens
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, width_p:]
        states = stack_states([(s, p) for _, s, p in entries], width_p)
        logits = self._last_logits(input_ids, mask, positions, states)
        yield self._read(jobs, [i for i, _, _ in entries], logits)

    def _extend_all(self, states: Any, start: int, segments: list[list[int]]) -> list[Any]:
        """The key/value states of the prefix `states` holds (`start` tokens; None: none)
        followed by each segment, run as one batch (segments left-padded, the padding
        masked); one single-sequence cache per segment, without the padding."""
        import torch

        n, width = len(segments), max(len(seg) for seg in segments)
        input_ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((n, start + width), dtype=torch.long)
        mask[:, :start] = 1
        for r, seg in enumerate(segments):
            input_ids[r, width - len(seg):] = torch.tensor(seg)
            mask[r, start + width - len(seg):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, start:]
        stacked = None if states is None else stack_states([(states, start)] * n, start)
        out = self._forward(input_ids, mask, positions, stacked, keep_cache=True)
        result = getattr(out, "cache", None)
        layers = state_tensors(result if result is not None else out.past_key_values)
        return [cache_from([(torch.cat([k[r:r + 1, :, :start],
                                        k[r:r + 1, :, start + width - len(seg):]], dim=2),
                             torch.cat([v[r:r + 1, :, :start],
                                        v[r:r + 1, :, start + width - len(seg):]], dim=2))
                            for k, v in layers]) for r, seg in enumerate(segments)]

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

    def _last_logits(self, input_ids: Any, mask: Any, positions: Any, states: Any) -> Any:
        """Float32 logits of the last two positions of each row (rows are left-padded): the
        prompt's next token, or with an appended space token the one before and after it."""
        out = self._forward(input_ids, mask, positions, states, keep_cache=False)
        return out.logits[:, -2:].float()

    def _forward(self, input_ids: Any, mask: Any, positions: Any, states: Any, *,
                 keep_cache: bool) -> Any:
        """One pass; only the last two positions' logits are computed where the model
        allows (none are read of a pass that keeps its cache for a branch)."""
        import torch

        device = self.device
        kwargs: dict[str, Any] = {
            "input_ids": input_ids.to(device), "attention_mask": mask.to(device),
            "position_ids": positions.to(device), "use_cache": keep_cache or states is not None,
        }
        if states is not None:
            kwargs[self._cache_arg] = states
        with torch.inference_mode():
            if self._keep_arg:
                try:
                    return self.model(**kwargs, logits_to_keep=1 if keep_cache else 2)
                except TypeError:
                    self._keep_arg = False
            return self.model(**kwargs)

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
