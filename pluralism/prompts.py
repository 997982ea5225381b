"""Few-shot prompts for the distribution experiments.

A prompt is three worked examples, each answered with a letter drawn at random for that
repetition, then the item, ending in 'Answer Choice:'; the model's next token is read.

Templates are data: prompts/pluralism_template.json (ours, the default) or the study's
study_prompts.json (`--templates`). Both hold, per dataset, the item template, the answer
choices (MPI) or examples with their own choices (GlobalQA), and the answer labels. A file
without a 'layout' block is read with the study's layout, which its file describes in prose:
- GlobalQA: question, each option as '<label> <option>', and '\\n Answer Choice:' joined by
  single spaces; an example appends its drawn label and '\\n\\n'; examples and item are joined
  by single spaces; each example's label is drawn independently.
- MPI: the item template filled with the statement; an example appends its drawn label and
  four newlines; examples are joined by single spaces and the item follows directly; the
  three examples' labels are distinct.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import UserError
from pluralism.items import SurveyItem
from prompts import PROMPTS_DIR

DEFAULT_TEMPLATES = PROMPTS_DIR / "pluralism_template.json"
DATASETS = ("mpi", "globalqa")
N_EXAMPLES = 3
ANSWER_CUE = "Answer Choice:"

#: the study's layout (see the module docstring), for files without a 'layout' block
STUDY_LAYOUT: dict[str, dict[str, Any]] = {
    "globalqa": {"item_template": "{question} {options} \n Answer Choice:",
                 "option_format": "{label} {option}", "option_joiner": " ",
                 "answer_format": "{label}\n\n", "example_joiner": " ", "item_joiner": " ",
                 "distinct_example_labels": False},
    "mpi": {"option_format": "{label} {option}", "option_joiner": "\n",
            "answer_format": "{label}\n\n\n\n", "example_joiner": " ", "item_joiner": "",
            "distinct_example_labels": True},
}
LAYOUT_KEYS = ("option_format", "option_joiner", "answer_format", "example_joiner",
               "item_joiner", "distinct_example_labels")


@dataclass(frozen=True)
class Example:
    question: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class DatasetTemplate:
    """How one dataset's prompts are written."""

    dataset: str
    item_template: str
    labels: tuple[str, ...]  # "A.", "B.", ...: how options are labelled in the text
    examples: tuple[Example, ...]
    answer_choices: tuple[str, ...]  # MPI: every item's options; GlobalQA: empty
    option_format: str
    option_joiner: str
    answer_format: str
    example_joiner: str
    item_joiner: str
    distinct_example_labels: bool

    def options_of(self, item: SurveyItem) -> tuple[str, ...]:
        return item.options or self.answer_choices

    def item_text(self, question: str, options: tuple[str, ...]) -> str:
        if len(options) > len(self.labels):
            raise UserError(f"an item has {len(options)} options but the template has only "
                            f"{len(self.labels)} answer labels")
        listed = self.option_joiner.join(
            self.option_format.format(label=self.labels[k], option=o)
            for k, o in enumerate(options))
        return self.item_template.format(question=question, statement=question,
                                         options=listed)


@dataclass(frozen=True)
class Prompt:
    """One repetition's prompt: the text, the examples part it starts with, and the draw."""

    text: str
    prefix: str  # the examples and the joiner: the same for every item with the same draw
    drawn: tuple[int, ...]  # the option index each example was answered with


@dataclass(frozen=True)
class Templates:
    name: str  # the file's name, recorded in each row
    sha256: str  # of the file, so a row says exactly which wording made it
    mpi: DatasetTemplate
    globalqa: DatasetTemplate

    def for_dataset(self, dataset: str) -> DatasetTemplate:
        return self.mpi if dataset == "mpi" else self.globalqa


def letters_for(n: int) -> tuple[str, ...]:
    """The answer letters read from the model: A, B, ... (one per option)."""
    return tuple(chr(ord("A") + k) for k in range(n))


def _dataset_template(dataset: str, block: Any, labels: tuple[str, ...], path: Path
                      ) -> DatasetTemplate:
    if not isinstance(block, dict):
        raise UserError(f"{path}: '{dataset}' must be an object; see {DEFAULT_TEMPLATES.name}")
    layout = dict(STUDY_LAYOUT[dataset])
    given = block.get("layout") or {}
    unknown = set(given) - set(LAYOUT_KEYS)
    if unknown:
        raise UserError(f"{path}: unknown {dataset} layout key(s) {sorted(unknown)}; "
                        f"known: {', '.join(LAYOUT_KEYS)}")
    layout.update(given)
    item_template = block.get("item_template") or layout.pop("item_template", None)
    layout.pop("item_template", None)
    if not item_template:
        raise UserError(f"{path}: '{dataset}' has no item_template")
    if not item_template.rstrip().endswith(ANSWER_CUE):
        raise UserError(f"{path}: the {dataset} item_template must end in '{ANSWER_CUE}'")
    if dataset == "mpi":
        choices = tuple(block.get("answer_choices") or ())
        statements = block.get("in_context_statements") or []
        if len(choices) < 2:
            raise UserError(f"{path}: mpi needs answer_choices (at least two)")
        examples = tuple(Example(str(s), choices) for s in statements)
    else:
        choices = ()
        raw = block.get("in_context_examples") or []
        try:
            examples = tuple(Example(str(e["question"]), tuple(map(str, e["answer_choices"])))
                             for e in raw)
        except (KeyError, TypeError) as exc:
            raise UserError(f"{path}: each globalqa in-context example needs 'question' and "
                            "'answer_choices'") from exc
    if len(examples) != N_EXAMPLES:
        raise UserError(f"{path}: {dataset} needs {N_EXAMPLES} in-context examples, "
                        f"found {len(examples)}")
    for ex in examples:
        if len(ex.options) > len(labels) or (layout["distinct_example_labels"]
                                             and len(ex.options) < N_EXAMPLES):
            raise UserError(f"{path}: {dataset} example {ex.question!r} has "
                            f"{len(ex.options)} options, which the labels cannot draw from")
    try:
        return DatasetTemplate(dataset=dataset, item_template=item_template, labels=labels,
                               examples=examples, answer_choices=choices,
                               **{k: layout[k] for k in LAYOUT_KEYS})
    except TypeError as exc:  # pragma: no cover - keys are checked above
        raise UserError(f"{path}: bad {dataset} layout: {exc}") from exc


def load_templates(path: str | Path | None = None) -> Templates:
    """Our templates (default) or another file in the same schema, e.g. the study's."""
    path = Path(path) if path else DEFAULT_TEMPLATES
    try:
        raw_bytes = path.read_bytes()
        data = json.loads(raw_bytes)
    except FileNotFoundError as exc:
        raise UserError(f"template file {path} does not exist; check --templates (the study's "
                        "is Data/pluralism/study_prompts.json after fetch_data.py)") from exc
    except json.JSONDecodeError as exc:
        raise UserError(f"template file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not all(d in data for d in DATASETS):
        raise UserError(f"{path} is not a distribution-prompt file: it needs 'mpi' and "
                        f"'globalqa' blocks (see {DEFAULT_TEMPLATES})")
    labels = tuple(str(s) for s in data.get("answer_labels") or
                   [f"{chr(ord('A') + k)}." for k in range(18)])
    for k, label in enumerate(labels):
        if not label.startswith(chr(ord("A") + k)):
            raise UserError(f"{path}: answer label {k + 1} is {label!r}; labels must start "
                            "with A, B, C, ... in order")
    return Templates(
        name=path.name, sha256=hashlib.sha256(raw_bytes).hexdigest(),
        mpi=_dataset_template("mpi", data["mpi"], labels, path),
        globalqa=_dataset_template("globalqa", data["globalqa"], labels, path),
    )


def draw_rng(seed: int, dataset: str, item_id: int, rep: int) -> random.Random:
    """The draw of one (item, repetition): the same whatever else is run or skipped."""
    return random.Random(f"{seed}:{dataset}:{item_id}:{rep}")


def draw_labels(template: DatasetTemplate, rng: random.Random) -> tuple[int, ...]:
    """The option index each example is answered with."""
    if template.distinct_example_labels:
        n = min(len(ex.options) for ex in template.examples)
        return tuple(rng.sample(range(n), N_EXAMPLES))
    return tuple(rng.randrange(len(ex.options)) for ex in template.examples)


def build_prompt(template: DatasetTemplate, item: SurveyItem, drawn: tuple[int, ...]) -> Prompt:
    """The prompt text for one item with the examples answered as `drawn`."""
    shots = [template.item_text(ex.question, ex.options)
             + template.answer_format.format(label=template.labels[k])
             for ex, k in zip(template.examples, drawn, strict=True)]
    prefix = template.example_joiner.join(shots) + template.item_joiner
    return Prompt(text=prefix + template.item_text(item.question, template.options_of(item)),
                  prefix=prefix, drawn=drawn)


def item_prompts(template: DatasetTemplate, item: SurveyItem, reps: int, seed: int
                 ) -> list[Prompt]:
    """The prompts of an item's repetitions (each with its own drawn labels)."""
    return [build_prompt(template, item,
                         draw_labels(template, draw_rng(seed, item.dataset, item.item_id, r)))
            for r in range(reps)]
