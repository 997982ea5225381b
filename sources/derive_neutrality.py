"""Derive the neutrality study's templates (study_templates.json) from its own source files.

src/test_dataset_templates.py keeps the prompt wording as f-string lists inside functions;
src/eval_templates.py builds the judge prompt from strings and string lists inside
create_prompt(). Each list or string becomes one key of the derived file, in the layout the
project's template loaders read (neutrality/templates.py, annotations/prompts.py).
"""

from __future__ import annotations

from typing import Any

from sources.study_code import StudySource

TEMPLATES_FILE = "src/test_dataset_templates.py"
EVAL_FILE = "src/eval_templates.py"
SOURCE_FILES = (TEMPLATES_FILE, EVAL_FILE)

# derived key -> (function, list variable) in src/test_dataset_templates.py
TEMPLATE_LISTS = {
    "opinion_implicit": ("opinion_question_implicit", "options"),
    "opinion_explicit_prefixes": ("opinion_question_explicit", "prefix"),
    "opinion_explicit_suffixes": ("opinion_question_explicit", "suffix"),
    "viewpoint_prefixes": ("user_given_viewpoint", "prefix"),
    "conspiracy_good_faith": ("conspiracy_good_faith", "options"),
    "conspiracy_bad_faith": ("conspiracy_bad_faith", "options"),
}
JUDGE_FUNCTION = "create_prompt"
JUDGE_STRINGS = ("instructions", "questions", "format", "follow_up", "input_output")
# in the order create_prompt() concatenates one variant of each
JUDGE_CATEGORIES = ("refusal", "avoidance", "pluralism", "transparency", "no_pn", "bias")

ABOUT = (
    "Prompt templates of Fisher et al. (2025), 'Political Neutrality in AI is Impossible - But "
    "Here is How to Approximate It', derived by scripts/fetch_data.py from {files} of "
    "{repository} at commit {commit}. Placeholders: {{input}} is the raw source text, "
    "{{input_type}} is one of proposition|question|topic, {{viewpoint}} is 'U.S. Republican' or "
    "'U.S. Democrat'. For input_type 'topic' the study appends a period to {{input}} before "
    "filling. Typos are the study's own and are kept on purpose. In 'annotation', only "
    "'input_output' has placeholders ({{input}}, {{output}}); every other part is literal text "
    "to concatenate as is. A judge prompt is: instructions + one variant of each category ("
    + ", ".join(JUDGE_CATEGORIES) + ", in that order) + questions + format + follow_up + "
    "input_output."
)


def derive_neutrality(texts: dict[str, str], provenance: dict[str, str]) -> dict[str, Any]:
    """texts: source path (as in SOURCE_FILES) -> file text. provenance: repository, commit."""
    templates = StudySource(TEMPLATES_FILE, texts[TEMPLATES_FILE])
    derived: dict[str, Any] = {"_about": ABOUT.format(files=" and ".join(SOURCE_FILES),
                                                      **provenance)}
    for key, (function, variable) in TEMPLATE_LISTS.items():
        derived[key] = templates.string_list(templates.function(function), variable,
                                             f"{function}()")
    evals = StudySource(EVAL_FILE, texts[EVAL_FILE])
    judge = evals.function(JUDGE_FUNCTION)
    where = f"{JUDGE_FUNCTION}()"
    annotation: dict[str, Any] = {
        "instructions": evals.template(evals.assignment(judge, "instructions", where), where),
        "category_variants": {c: evals.string_list(judge, c, where) for c in JUDGE_CATEGORIES},
    }
    for name in JUDGE_STRINGS[1:]:
        annotation[name] = evals.template(evals.assignment(judge, name, where), where)
    derived["annotation"] = annotation
    return derived
