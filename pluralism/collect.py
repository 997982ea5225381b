"""Collect a model's answer distributions: items x repetitions -> one JSON line per item.

Each repetition (and, for the sampling estimate, each sampled answer) is first written as a row
of `<save_dir>/requests/<label>.jsonl` the moment it is done; an item's row in
`<save_dir>/<label>.jsonl` (the label: the study's --model, else the backend's name) is written
as soon as all its repetitions are in. A rerun of the same command skips what is done, redoes
failed requests, and never writes a row twice. Rows made with other settings (model, template,
seed, repetitions, ...) or from another prompt (a repetition's text and drawn examples, by its
hash) are never mixed in: the run, and its dry run, stop and say so in one line, or with
--redo-stale those rows (and their items) are made again (`harness.request.check_stale`, as
for every request).

Three ways to read a distribution, chosen from what the backend's adapter class can do
(`Backend.option_reading`):
- logprobs: a local model gives every letter's log-probability from one forward pass per
  prompt (`Backend.option_logprobs`);
- top_logprobs: an API that returns the top-k first tokens (`Backend.max_top_logprobs`:
  OpenAI chat 20, the legacy completions endpoint 5, Gemini 20), asked for with the one-token
  request `Backend.option_params`; letters missing from the list are imputed and flagged;
  a model that refuses log-probabilities, or answers without them, stops the run;
- sampling: `--samples-per-item N` answers sampled per repetition (temperature 1), for
  providers without log-probabilities (Anthropic); flagged as an estimate.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from backends.option_scores import ScoreJob
from backends.registry import create_backend
from core.clock import utc_now
from core.errors import UserError
from core.progress import progress_bar
from harness.request import (
    REDO_STALE_FLAG,
    Request,
    check_stale,
    done_rows,
    prompt_sha256,
    split_done,
)
from harness.results import ResultsStore, Row, key_by
from harness.schema import DISTRIBUTION_ITEM_KEY, DISTRIBUTION_REQUEST_KEY
from harness.send import Sender, asked_of, price
from pluralism.assemble import answered_without_logprobs, assemble_item
from pluralism.collect_plan import CollectOptions, Job, choose_method, request_params
from pluralism.items import SurveyItem
from pluralism.prompts import DatasetTemplate, Templates, item_prompts, letters_for
from pluralism.steering import SteerTarget, steer_prompt

ITEM_KEY = DISTRIBUTION_ITEM_KEY
REP_KEY = DISTRIBUTION_REQUEST_KEY
OUT_FLAG = "--out-dir"


class _HookedStore(ResultsStore):
    """A ResultsStore that tells the collection about each row before/after it is written."""

    def __init__(self, path: Path, key: Callable[[dict[str, Any]], Hashable],
                 check: Callable[[dict[str, Any]], None],
                 after: Callable[[dict[str, Any]], None]) -> None:
        super().__init__(path, key)
        self._check = check
        self._after = after

    def append(self, row: dict[str, Any]) -> None:
        self._check(row)
        super().append(row)
        self._after(row)


class Collection:
    """One run over `items` with one backend; see the module docstring."""

    def __init__(self, options: CollectOptions, items: Sequence[SurveyItem],
                 templates: Templates) -> None:
        self.o = options
        self.items = {i.item_id: i for i in items}
        self.template: DatasetTemplate = templates.for_dataset(options.dataset)
        self.templates = templates
        self.method = choose_method(options.spec, options.samples_per_item)
        self.samples = options.samples_per_item or 1
        self.params = (request_params(self.method, options.spec)
                       if self.method != "logprobs" else None)
        self.targets: dict[str | None, SteerTarget | None] = {
            None: None, **{t.steer_to: t for t in options.targets}}
        base = {i.item_id: item_prompts(self.template, i, options.reps, options.seed)
                for i in items}
        #: (item_id, steer_to) -> its repetitions' prompts; the unsteered ones as before
        self.prompts = {(i, to): [steer_prompt(p, target, options.steer_joiner) for p in ps]
                        for to, target in self.targets.items() for i, ps in base.items()}
        self.identity = self._identity()
        self.run_id = hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode()
                                     ).hexdigest()[:16]
        self.model_version: str | None = None
        self.items_written = 0
        self.failed = 0  # items left without a distribution by the last run (failed requests)
        self.item_store: ResultsStore | None = None
        self.rep_store: _HookedStore | None = None

    # ---- settings ---------------------------------------------------------------------
    def _identity(self) -> dict[str, Any]:
        """What decides the numbers: rows made with other values are never mixed."""
        o = self.o
        ident: dict[str, Any] = {
            "dataset": o.dataset, "method": self.method, "model": o.model_id,
            "reps": o.reps, "seed": o.seed, "templates": self.templates.name,
            "templates_sha256": self.templates.sha256,
        }
        if self.method == "logprobs":
            ident["chat_template"] = o.chat_template
            ident.update({k: v for k, v in {**o.spec.options, **o.backend_options}.items()
                          if k in ("dtype", "quantization", "gguf_file")})
        else:
            ident.update(self.params.to_dict() if self.params else {})
            ident["samples_per_item"] = o.samples_per_item
            ident["base_url"] = o.base_url
        ident.update(o.extra_identity)
        return ident

    def row_params(self) -> dict[str, Any]:
        return {**self.identity, "run_id": self.run_id, "batch_size": self.o.batch_size,
                "prefix_cache": self.o.prefix_cache if self.method == "logprobs" else None}

    # ---- jobs -------------------------------------------------------------------------
    def jobs(self) -> list[Job]:
        return [Job(self.items[i], r, s, p, self.targets[to])
                for (i, to), prompts in self.prompts.items()
                for r, p in enumerate(prompts) for s in range(self.samples)]

    def _keys_of(self, item_id: int, steer_to: str | None) -> list[tuple]:
        return [(item_id, steer_to, r, s) for r in range(self.o.reps)
                for s in range(self.samples)]

    def _check_steer_text(self, rows: dict[Hashable, dict[str, Any]], path: Path) -> None:
        """Rows of a target asked now must have been asked in the same words."""
        for row in rows.values():
            target = self.targets.get(row.get("steer_to"))
            if target is not None and row.get("steer_text") != target.text:
                raise UserError(f"{path} holds rows steered to {target.steer_to!r} with other "
                                f"words ({row.get('steer_text')!r}, now {target.text!r}); use "
                                "another --save_dir, or the wording they were made with")

    def _other_runs(self, rows: dict[Hashable, Row], path: Path, redo_stale: bool
                    ) -> list[Hashable]:
        """The keys of rows made by another run (another run_id: settings, model, templates);
        without `redo_stale` any stops the run with one line naming what differs."""
        other = [k for k, r in rows.items()
                 if (r.get("run_id") or (r.get("params") or {}).get("run_id")) != self.run_id]
        if other and not redo_stale:
            theirs = rows[other[0]].get("params") or {}
            diff = [f"{k}: {theirs.get(k)!r} there, {v!r} now" for k, v in
                    self.identity.items() if k in theirs and theirs.get(k) != v]
            why = f" ({'; '.join(diff[:3])})" if diff else ""
            raise UserError(f"{path} holds {len(other)} row(s) made with other settings{why}; "
                            f"write to another folder with {OUT_FLAG}, or rerun with "
                            f"{REDO_STALE_FLAG} to redo them")
        return other

    def stale(self, items: dict[Hashable, Row], reps: dict[Hashable, Row], redo_stale: bool
              ) -> tuple[list[Hashable], list[Hashable]]:
        """(item keys, request keys) of the rows not made from this run's requests: another
        run's settings, or a repetition whose prompt (text and drawn examples) differs; an
        item goes with any of its repetitions. Stops the run, unless `redo_stale`, in one
        line; the dry run asks the same."""
        stale_items = set(self._other_runs(items, self.o.out_path, redo_stale))
        stale_reps = set(self._other_runs(reps, self.o.requests_path, redo_stale))
        current = {k: r for k, r in reps.items() if k not in stale_reps}
        if self.method == "logprobs" and self.o.chat_template:
            # a local row's input is the templated text: only its hash can be compared
            current = {k: {f: v for f, v in r.items() if f != "input"}
                       for k, r in current.items()}
        stale_reps |= set(check_stale(
            self.requests(self.jobs()), current, key_by(*REP_KEY),
            asked_of(self.o.spec, self.o.model), self.params, where=self.o.requests_path,
            redo_stale=redo_stale, out_flag=OUT_FLAG))
        stale_items |= {(k[0], k[1]) for k in stale_reps} & set(items)  # (item, target)
        return sorted(stale_items), sorted(stale_reps)

    # ---- dry run ----------------------------------------------------------------------
    def dry_run(self) -> str:
        items = done_rows(self.o.out_path, key_by(*ITEM_KEY))
        reps = done_rows(self.o.requests_path, key_by(*REP_KEY))
        stale_items, stale_reps = self.stale(items, reps, self.o.run_options.redo_stale)
        done_items = {k for k, r in items.items() if not r.get("error")} - set(stale_items)
        todo = [j for j in self.jobs() if (j.item.item_id, j.steer_to) not in done_items]
        todo_requests, _ = split_done(
            self.requests(todo),
            {k for k, r in reps.items() if not r.get("error")} - set(stale_reps),
            key_by(*REP_KEY))
        lines = [f"{self.o.dataset}: {len(self.items)} items x {self.o.reps} repetitions"
                 + (f" x {self.samples} samples" if self.samples > 1 else "")
                 + (f" x {len(self.targets)} targets (unsteered, "
                    f"{', '.join(str(t) for t in self.targets if t is not None)})"
                    if len(self.targets) > 1 else "")
                 + f" with {self.o.spec.name} ({self.o.model_id}); method: {self.method}",
                 f"output: {self.o.out_path}",
                 f"to do: {len(todo_requests)} of {len(self.jobs())} "
                 + ("forward passes" if self.method == "logprobs" else "requests")]
        if self.method == "logprobs":
            lines.append("estimated cost: none (a local model)")
            return "\n".join(lines)
        assert self.params is not None
        estimate = price(self.o.spec, todo_requests, self.params)
        lines += [estimate.tokens_line(), estimate.cost_line()]
        return "\n".join(lines)

    # ---- running ----------------------------------------------------------------------
    def run(self) -> str:
        self.o.save_dir.mkdir(parents=True, exist_ok=True)
        with ResultsStore(self.o.out_path, key_by(*ITEM_KEY)) as items, _HookedStore(
                self.o.requests_path, key_by(*REP_KEY), self._check_rep_row,
                self._after_rep_row) as reps:
            self._check_steer_text(items.rows, self.o.out_path)
            self._check_steer_text(reps.rows, self.o.requests_path)
            stale_items, stale_reps = self.stale(items.rows, reps.rows,
                                                 self.o.run_options.redo_stale)
            items.drop(stale_items)
            reps.drop(stale_reps)
            if stale_items or stale_reps:
                print(f"redoing {len(stale_reps)} request(s) and {len(stale_items)} item(s) "
                      "made from another request")
            self.item_store, self.rep_store = items, reps
            done_items = set(items.done(include_errors=False))
            # items finished in an earlier run whose item row was not yet written
            for key in self.prompts:
                if key not in done_items:
                    self._maybe_assemble(*key)
            done_items = set(items.done(include_errors=False))
            done_reps = reps.done(include_errors=False)
            todo = [j for j in self.jobs()
                    if (j.item.item_id, j.steer_to) not in done_items and j.key not in done_reps]
            if todo:
                if self.method == "logprobs":
                    self._run_local(todo, len(self.jobs()))
                else:
                    self._run_api(todo)
            missing = [k for k in self.prompts
                       if k not in items.rows or items.rows[k].get("error")]
        n = len(self.prompts)
        what = "items" if len(self.targets) == 1 else "(item, target) rows"
        lines = [f"{self.o.dataset}: {n - len(missing)} of {n} {what} done "
                 f"({self.items_written} written now); results: {self.o.out_path}"]
        self.failed = len(missing)
        return "\n".join(lines)

    def _check_rep_row(self, row: dict[str, Any]) -> None:
        if row.get("finish_reason") == "logprobs_unavailable":
            # a model that refuses log-probabilities: stop, naming the sampling fallback
            raise UserError(str(row.get("provider_message")))
        if self.method == "top_logprobs" and answered_without_logprobs(row):
            # asked for and silently left out (e.g. Gemini's 200 without logprobsResult):
            # every item would come out empty, so stop as for a refusal
            model = row.get("model_version") or self.o.model_id
            raise UserError(f"{model} answered item {row.get('item_id')} without "
                            "log-probabilities, though they were asked for; use the sampling "
                            "estimate instead (--samples-per-item N)")

    def _after_rep_row(self, row: dict[str, Any]) -> None:
        if row.get("model_version"):
            self.model_version = row["model_version"]
        self._maybe_assemble(int(row["item_id"]), row.get("steer_to"))

    def _maybe_assemble(self, item_id: int, steer_to: str | None = None) -> None:
        assert self.rep_store is not None and self.item_store is not None
        if (item_id, steer_to) not in self.prompts:
            return  # a row of a target not asked in this run
        rows = self.rep_store.rows
        keys = self._keys_of(item_id, steer_to)
        if not all(k in rows for k in keys):
            return
        current = self.item_store.rows.get((item_id, steer_to))
        if current is not None and not current.get("error"):
            return
        row = self.assemble(self.items[item_id], [rows[k] for k in keys],
                            self.targets[steer_to])
        self.item_store.append(row)
        self.items_written += 1

    def _run_local(self, todo: list[Job], total: int) -> None:
        o = self.o
        backend = create_backend(o.spec.name, model=o.model, registry={o.spec.name: o.spec},
                                 batch_size=o.batch_size, **o.backend_options)
        templated = o.chat_template and backend.has_chat_template
        if o.chat_template and not templated:
            raise UserError(f"--chat-template: the tokenizer of {o.model_id} has no chat "
                            "template; run without it")
        self.model_version = getattr(backend, "model_version", None)
        texts = [backend.prompt_text([{"role": "user", "content": j.prompt.text}])
                 if templated else j.prompt.text for j in todo]
        letters = {j.item.item_id: letters_for(len(self.template.options_of(j.item)))
                   for j in todo}
        # one group: prompts share whatever beginning they have (a steering sentence, the
        # worked examples' tree of drawn answers), each shared part run once
        score_jobs = [ScoreJob(t, letters[j.item.item_id], group=o.dataset)
                      for t, j in zip(texts, todo, strict=True)]
        assert self.rep_store is not None
        bar = progress_bar(total, initial=total - len(todo), desc=f"{o.dataset} {o.spec.name}",
                           unit="prompt", disable=not o.progress)
        try:
            for batch in backend.option_logprobs(score_jobs, prefix_cache=o.prefix_cache,
                                                 add_special_tokens=not templated):
                for i, scores in batch:
                    job = todo[i]
                    self.rep_store.append({
                        **job.key_fields(), **job.steer_fields(), "run_id": self.run_id,
                        "input": texts[i],
                        "prompt_sha256": prompt_sha256(
                            [{"role": "user", "content": job.prompt.text}]),
                        "drawn": list(job.prompt.drawn),
                        "letters": list(score_jobs[i].letters),
                        "letter_logprobs": [round(x, 8) for x in scores.logprobs],
                        "letter_token_ids": {c: list(v) for c, v in scores.token_ids.items()},
                        "letter_space_path": scores.space_path(),
                        "top_tokens": scores.top_tokens, "model_version": self.model_version,
                        "error": None, "created_at": utc_now(),
                    })
                bar.update(len(batch))
        finally:
            bar.close()

    def requests(self, jobs: list[Job]) -> list[Request]:
        """One API request per job, keyed as its request row."""
        return [Request(key=j.key_fields(),
                        messages=[{"role": "user", "content": j.prompt.text}],
                        carry={"run_id": self.run_id, "drawn": list(j.prompt.drawn),
                               **j.steer_fields()})
                for j in jobs]

    def _run_api(self, todo: list[Job]) -> None:
        o = self.o
        assert self.params is not None and self.rep_store is not None
        # the collection always redoes failed requests (an item holds no partial numbers)
        options = replace(o.run_options, retry_errors=True, desc=f"{o.dataset} {o.spec.name}",
                          out_flag=OUT_FLAG)
        sender = Sender(o.route, o.requests_path, REP_KEY, self.params, options)
        store = self.rep_store

        async def main() -> None:
            try:
                await sender.send(self.requests(todo), store)
            finally:
                await sender.aclose()

        asyncio.run(main())

    # ---- one item's row ---------------------------------------------------------------
    def assemble(self, item: SurveyItem, rows: list[dict[str, Any]],
                 steer: SteerTarget | None = None) -> dict[str, Any]:
        """The item's row from its requests' rows (pluralism.assemble)."""
        return assemble_item(
            item, rows, method=self.method, reps=self.o.reps, template=self.template,
            dataset=self.o.dataset, model_id=self.o.model_id, backend=self.o.spec.name,
            label=self.o.name, params=self.row_params(), model_version=self.model_version,
            steer=steer)
