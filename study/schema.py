"""The typed schema of a study config (run_study.py), checked before any stage runs.

A wrong type deep in a config (`generation: 5`, `sample_per_task: many`, a file that is a
list) used to surface as a traceback from whichever stage met it first, and `models: gpt-4o`
was read letter by letter. pydantic checks the whole file at once; the first problem becomes
one line naming the key path, the type expected and the value found. A single string where a
list of names is expected is taken as a one-item list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    StringConstraints,
    ValidationError,
)

from core.errors import UserError


def _one_item_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _comma_list(value: Any) -> Any:
    return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value


#: a registry name, as backends.registry.NAME_PATTERN allows
RegistryName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")]
Names = Annotated[list[RegistryName], BeforeValidator(_one_item_list)]
Strings = Annotated[list[str], BeforeValidator(_one_item_list)]


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GenerationOptions(_Block):
    max_tokens: PositiveInt | None = None
    temperature: float | None = None
    batch_size: PositiveInt | None = None
    concurrency: PositiveInt | None = None
    rpm: PositiveFloat | None = None
    tpm: PositiveFloat | None = None
    n_samples: PositiveInt | None = None
    base_url: str | None = None
    batch_api: bool | None = None
    tasks: str | None = None  # comma-separated, as --tasks takes them


class AnnotationOptions(_Block):
    n_evals: PositiveInt | None = None
    max_reparse: NonNegativeInt | None = None
    concurrency: PositiveInt | None = None
    rpm: PositiveFloat | None = None
    tpm: PositiveFloat | None = None
    base_url: str | None = None
    templates: str | None = None
    batch_api: bool | None = None
    max_tokens: PositiveInt | None = None
    batch_size: PositiveInt | None = None
    judge_mode: Literal["json", "probs"] | None = None
    probs_wording: str | None = None  # annotate.py checks the name


class Neutrality(_Block):
    models: Names = Field(default_factory=list)
    judge: RegistryName | None = None
    sample_per_task: PositiveInt | None = None
    seed: int = 0
    templates: str | None = None
    generation: GenerationOptions | None = None
    annotation: AnnotationOptions | None = None


class DistributionOptions(_Block):
    reps: PositiveInt | None = None
    limit: PositiveInt | None = None
    batch_size: PositiveInt | None = None
    seed: int | None = None
    templates: str | None = None
    samples_per_item: PositiveInt | None = None


class SteerOptions(_Block):
    """A steered collection after the unsteered one (steerable pluralism): GlobalOpinionQA
    steers to each of `countries`, MPI to each of `groups`."""

    groups: Strings | None = None  # MPI: 'SEX=2', 'AGE=18-29', 'SEX=2&AGE=18-29', ...
    wording: str | None = None  # --steer-wording (default, durmus)
    steering: str | None = None  # --steering FILE (default prompts/steering.json)
    limit: PositiveInt | None = None  # steer only the first N items (e.g. a demo)


class DatasetBlock(DistributionOptions):
    models: Names = Field(default_factory=list)
    data: str | None = None
    countries: Strings | None = None
    human: str | None = None
    steer: SteerOptions | None = None


class OvertonBlock(_Block):
    """Overton pluralism: open answers to GlobalOpinionQA questions, a coverage judge."""

    models: Names = Field(default_factory=list)
    judge: RegistryName | None = None
    judge_mode: Literal["json", "probs"] | None = None
    data: str | None = None
    countries: Strings | None = None
    window_threshold: Annotated[float, Field(gt=0, le=1)] | None = None
    limit: PositiveInt | None = None
    max_tokens: PositiveInt | None = None
    temperature: float | None = None
    n_samples: PositiveInt | None = None
    batch_api: bool | None = None
    batch_size: PositiveInt | None = None
    max_reparse: NonNegativeInt | None = None


class Pluralism(_Block):
    collection: DistributionOptions | None = None
    pairs: list[tuple[RegistryName, RegistryName]] = Field(default_factory=list)
    mpi: DatasetBlock | None = None
    globalqa: DatasetBlock | None = None
    overton: OvertonBlock | None = None


class StudySchema(_Block):
    name: str | None = None
    results_dir: str | None = None
    reports_dir: str | None = None
    mirror: str | None = None
    data_dir: str | None = None
    fetch_with: Annotated[list[str], BeforeValidator(_comma_list)] | None = None
    neutrality: Neutrality | None = None
    pluralism: Pluralism | None = None


#: pydantic's error types -> what the user should have written
_EXPECTED = {
    "model_type": "a mapping of keys to values", "dict_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
    "list_type": "a list", "tuple_type": "a list", "string_type": "a string",
    "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "greater_than": "a number above 0", "greater_than_equal": "a number of 0 or more",
    "less_than_equal": "a number of at most 1",
    "string_pattern_mismatch": "a registry name (letters, digits, '.', '_', '-'; no leading dot)",
    "too_short": "a pair [pretrained, aligned]", "too_long": "a pair [pretrained, aligned]",
    "literal_error": "one of the listed values",
}


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the whole file"


def validate_study_config(raw: Any, path: Path | str) -> dict[str, Any]:
    """The config's keys as given (a lone name where names are expected becomes a list), or
    a UserError naming the first wrong key path, the type expected and the value found."""
    try:
        config = StudySchema.model_validate({} if raw is None else raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = _key_path(error["loc"])
        if error["type"] == "extra_forbidden":
            raise UserError(f"config {path}: unknown key {where}; check its spelling (see "
                            "configs/ for the keys a study takes)") from None
        expected = _EXPECTED.get(error["type"], error["msg"])
        raise UserError(f"config {path}: {where} should be {expected}, found "
                        f"{error.get('input')!r}; fix it in the config") from None
    return config.model_dump(exclude_unset=True)
