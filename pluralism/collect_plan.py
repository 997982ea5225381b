"""What a collection run asks for: its options, how it reads a distribution from the
backend (`choose_method`), and its jobs (an item's repetition, steered or not).
pluralism.collect runs them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.base import GenerationParams
from backends.registry import BackendSpec, adapter_class
from core.errors import UserError
from harness.request import RunOptions
from harness.run_files import inside
from harness.send import Route
from pluralism.items import SurveyItem
from pluralism.prompts import Prompt
from pluralism.steering import SteerTarget

SAMPLE_TEMPERATURE = 1.0
SAMPLE_MAX_TOKENS = 8


@dataclass
class CollectOptions:
    """Everything a collection run needs besides the items and the templates."""

    dataset: str
    spec: BackendSpec
    save_dir: Path
    model: str | None = None
    #: names the output files and is recorded in the rows (the study's --model); default:
    #: the backend's name
    label: str | None = None
    reps: int = 5
    seed: int = 0
    batch_size: int = 8
    samples_per_item: int | None = None
    chat_template: bool = False
    prefix_cache: bool = True
    base_url: str | None = None
    timeout_s: float = 120.0
    #: the request flags every script shares (harness.request_cli); API backends only,
    #: but for `progress`
    run_options: RunOptions = field(default_factory=RunOptions)
    workers: int = 1  # processes making the API calls (harness.workers)
    backend_options: dict[str, Any] = field(default_factory=dict)
    extra_identity: dict[str, Any] = field(default_factory=dict)  # e.g. GlobalQA countries
    #: steered runs (--steer): every item is also asked as each target; the unsteered
    #: prompts are collected as well. Not part of the run's identity: steered and unsteered
    #: rows live side by side in one file, keyed by steer_to
    targets: tuple[SteerTarget, ...] = ()
    steer_joiner: str = "\n\n"

    @property
    def progress(self) -> bool:
        return self.run_options.progress

    @property
    def route(self) -> Route:
        """How the API requests are sent (harness.send)."""
        return Route(self.spec, model=self.model, base_url=self.base_url,
                     timeout_s=self.timeout_s, backend_options=self.backend_options,
                     workers=self.workers)

    @property
    def model_id(self) -> str:
        return self.model or self.spec.model_id or ""

    @property
    def name(self) -> str:
        """The run's label: the output's file name and the rows' `label`."""
        return self.label or self.spec.name

    @property
    def out_path(self) -> Path:
        return inside(self.save_dir, f"{self.name}.jsonl")

    @property
    def requests_path(self) -> Path:
        # a sub-folder, so `<save_dir>/*.jsonl` globs only the item rows
        return inside(self.save_dir / "requests", f"{self.name}.jsonl")


def choose_method(spec: BackendSpec, samples_per_item: int | None) -> str:
    """logprobs (local), top_logprobs (API), or sampling; a UserError where none fits."""
    reading = adapter_class(spec).option_reading()
    if reading == "forward_pass":
        if samples_per_item:
            raise UserError(f"backend {spec.name!r} is a local model: its letter probabilities "
                            "are read exactly; drop --samples-per-item")
        return "logprobs"
    if samples_per_item:
        return "sampling"
    if reading == "top_logprobs":
        return "top_logprobs"
    raise UserError(f"backend {spec.name!r} ({spec.provider}) gives no log-probabilities; "
                    "pass --samples-per-item N to estimate each distribution from N sampled "
                    "answers per repetition")


def request_params(method: str, spec: BackendSpec) -> GenerationParams:
    if method == "top_logprobs":
        return adapter_class(spec).option_params()
    return GenerationParams(temperature=SAMPLE_TEMPERATURE, max_tokens=SAMPLE_MAX_TOKENS)


@dataclass(frozen=True)
class Job:
    """One request: an item's repetition (and sample, for the sampling estimate)."""

    item: SurveyItem
    rep: int
    sample: int
    prompt: Prompt
    steer: SteerTarget | None = None

    @property
    def steer_to(self) -> str | None:
        return self.steer.steer_to if self.steer else None

    @property
    def key(self) -> tuple[int, str | None, int, int]:
        return (self.item.item_id, self.steer_to, self.rep, self.sample)

    def key_fields(self) -> dict[str, Any]:
        return {"item_id": self.item.item_id, "steer_to": self.steer_to, "rep": self.rep,
                "sample": self.sample}

    def steer_fields(self) -> dict[str, Any]:
        """What a row records of its steering (nothing for an unsteered one)."""
        return {"steer_text": self.steer.text} if self.steer else {}


def with_limit(items: list[SurveyItem], limit: int | None) -> list[SurveyItem]:
    """The first `limit` items (all with None)."""
    return items if limit is None else items[:limit]

