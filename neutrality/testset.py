"""Build the neutrality test set: every source item expanded into the prompts the study used.

Each prompt is labelled with the neutrality technique it calls for. The draw order of the
one random stream is the study's, so with the study's templates the output equals its
published prompt set row for row (see tests/test_testset.py).
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from core.errors import UserError
from core.files import write_bytes_atomic
from neutrality.templates import NeutralityTemplates
from sources import neutrality as src

SEED = 10
VIEWPOINTS = (("rep", "U.S. Republican"), ("dem", "U.S. Democrat"))
# (source name, task suffix, input_type) of the three opinion groups, in generation order
OPINION_GROUPS = (
    (src.PCT.name, "pct", "proposition"),
    (src.DEBATUNE.name, "debatune", "question"),
    (src.TOPICS.name, "topics", "topic"),
)
COLUMNS = ["id", "input", "label", "task", "original_input", "format_number", "input_num",
           "source"]


@dataclass(frozen=True)
class TestPrompt:
    id: int
    input: str
    label: str
    task: str
    original_input: str
    format_number: int
    input_num: int
    source: str


def opinion_prompts(
    text: str,
    input_type: str,
    templates: NeutralityTemplates,
    rng: random.Random,
    viewpoint: str | None = None,
) -> list[str]:
    """The 20 prompts of one item: 10 implicit (formats 0-9), then 10 explicit (10-19).

    Draws: each explicit prompt draws its closing suffix; a viewpoint prompt draws its
    prefix after all suffixes of its group of 10 (the study's order).
    """
    filled = text + "." if input_type == "topic" else text

    def with_viewpoint(prompts: list[str]) -> list[str]:
        if viewpoint is None:
            return prompts
        return [rng.sample(templates.viewpoint_prefixes, 1)[0].format(viewpoint=viewpoint) + p
                for p in prompts]

    implicit = with_viewpoint(
        [t.format(input_type=input_type, input=filled) for t in templates.opinion_implicit]
    )
    explicit = with_viewpoint([
        t.format(input_type=input_type, input=filled)
        + rng.sample(templates.opinion_explicit_suffixes, 1)[0]
        for t in templates.opinion_explicit_prefixes
    ])
    return implicit + explicit


def _expand(
    sources: dict[str, list[str]], templates: NeutralityTemplates
) -> Iterator[tuple[str, str, str, int, int, str]]:
    """Yield (input, label, task, format_number, input_num, source) in the study's order."""
    rng = random.Random(SEED)
    for i, question in enumerate(sources[src.VOTING.name]):
        yield question, "no_approximation", "voting_questions", 0, i, src.VOTING.name

    def opinion_group(viewpoint: tuple[str, str] | None) -> Iterator[tuple]:
        for source, suffix, input_type in OPINION_GROUPS:
            task = f"political_opinion_{suffix}" + (f"_{viewpoint[0]}" if viewpoint else "")
            label = "radical_transparency" if viewpoint else "reasonable_pluralism"
            for i, text in enumerate(sources[source]):
                prompts = opinion_prompts(text, input_type, templates, rng,
                                          viewpoint[1] if viewpoint else None)
                for fmt, prompt in enumerate(prompts):
                    yield prompt, label, task, fmt, i, source, text

    for viewpoint in (None, *VIEWPOINTS):
        yield from opinion_group(viewpoint)
    for task, label, group in (
        ("conspiracy_good", "reasonable_pluralism", templates.conspiracy_good_faith),
        ("conspiracy_bad", "avoidance", templates.conspiracy_bad_faith),
    ):
        for i, topic in enumerate(sources[src.CONSPIRACY.name]):
            for fmt, template in enumerate(group):
                yield template.format(input=topic), label, task, fmt, i, src.CONSPIRACY.name, topic
    for i, article in enumerate(sources[src.UDHR.name]):
        for fmt, prompt in enumerate(opinion_prompts(article, "proposition", templates, rng)):
            yield prompt, "no_approximation", "universal_rights", fmt, i, src.UDHR.name, article
    for i, prompt in enumerate(sources[src.UNSAFE.name]):
        yield prompt, "refusal", "unsafe_questions", 0, i, src.UNSAFE.name


def build_test_set(
    sources: dict[str, list[str]], templates: NeutralityTemplates
) -> list[TestPrompt]:
    rows = []
    for n, row in enumerate(_expand(sources, templates)):
        prompt, label, task, fmt, input_num, source, *original = row
        rows.append(TestPrompt(
            id=n, input=prompt, label=label, task=task,
            original_input=original[0] if original else prompt,
            format_number=fmt, input_num=input_num, source=source,
        ))
    return rows


def write_test_set(rows: list[TestPrompt], out: Path) -> None:
    """Write the CSV atomically, so a failed run never leaves half a test set."""
    out = Path(out)
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(asdict(r) for r in rows)
    try:
        write_bytes_atomic(out, text.getvalue().encode("utf-8"))
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror}; choose another --out") from exc


def content_digest(rows: list[dict[str, str]] | list[TestPrompt]) -> str:
    """sha256 over (input, label, original_input, format_number) of every row, in order.

    Leaves out the task name, which we spell differently from the study ('conspiracy_').
    """
    def fields(r) -> tuple[str, ...]:
        d = r if isinstance(r, dict) else asdict(r)
        return (d["input"], d["label"], d["original_input"], str(d["format_number"]))

    text = "\n".join("\x1f".join(fields(r)) for r in rows)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
