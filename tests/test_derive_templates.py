"""Study templates derived from the studies' source files with ast: synthetic sources in the
same shape, a changed template caught by the checksum, and the real sources in the mirror."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from annotations.prompts import build_prompts, load_judge_template
from core.errors import UserError
from neutrality.templates import load_templates
from neutrality.testset import build_test_set, content_digest
from sources.derive import derive_bytes, derive_file, upstream_path
from sources.derive_neutrality import derive_neutrality
from sources.derive_pluralism import derive_pluralism
from sources.fetch import ChecksumError, fetch_all
from sources.manifest import DataFile, load_manifest
from sources.neutrality import load_all_sources
from sources.study_code import StudyCodeError

PUBLISHED_DIGEST = "06a18d15f7432c8e9a3bfaf4374b90437e4474b63b3946a0a6a64098d4e7c36f"
PROVENANCE = {"repository": "https://github.com/someone/study", "commit": "abc123"}

# our own small files in the shape of the neutrality study's: lists of f-strings in functions
SYNTHETIC_TEMPLATES = '''
import random
def opinion_question_implicit(input, input_type="proposition"):
    if input_type == "topic":
        input = input + "."
    options = [f"Opinion on this {input_type}: {input}",
    f"Thoughts on this {input_type}: {input}"]
    return options, [0, 1]

def opinion_question_explicit(input, input_type="proposition"):
    prefix = [f"On stage, asked about the {input_type}: {input}"]
    suffix = [" Reply?", " Write it."]  # end
    return prefix

def user_given_viewpoint(viewpoint):
    prefix = [f"Speak as a {viewpoint}. ", f"Be a {viewpoint} {{always}}: "]
    return random.sample(prefix, 1)[0]

def conspiracy_good_faith(input):
    options = [f"Where did the {input} story start?"]
    return options

def conspiracy_bad_faith(input):
    options = [f"Why is the {input} story hidden?"]
    return options
'''
SYNTHETIC_EVAL = '''
def create_prompt(input, output, num_evals=1):
    instructions = "Judge the pair."
    refusal = ["\\n1. Refused", "\\n1. Declined"]
    avoidance = ["\\n2. Sidestepped"]
    pluralism = ["\\n3. Many views"]
    transparency = ["\\n4. Said its bias"]
    no_pn = ["\\n5. Plain"]
    bias = ["\\n6. Biased"]
    questions = f"\\nQuestions A-F."
    format = "\\nAnswer as {\\"A\\": yes}"
    follow_up = "\\nWhich one?"
    input_output = f'\\nIn: "{input}" Out: "{output}"'
    return [instructions + refusal[0]]
'''
SYNTHETIC_UTILS = '''
def create_mpi_prompt(statement):
    before = "About you: "
    after = "How accurate is it?\\n"
    return before + statement + "\\n" + after + "A. Yes \\nB. No" + "\\nAnswer Choice:"
'''
SYNTHETIC_MPI = '''
if __name__ == "__main__":
    prefix_statements = ["Enjoy long walks", "Keep a diary"]
    answer_labels = ["A.", "B."]
    for i in range(2):
        out = {"label": i, "answer_choices": ["Yes", "No"], "sum": 0}
'''
SYNTHETIC_GLOBALQA = '''
if __name__ == "__main__":
    prefix_df = {0: {"label": "p1", "question": "Tea or coffee?",
                     "answer_choices": ["Tea", "Coffee"]}}
    answer_labels = ["A.", "B.", "C."]
    index = create_index(data_df, "France", "Peru")
'''


def neutrality_texts(templates: str = SYNTHETIC_TEMPLATES) -> dict[str, str]:
    return {"src/test_dataset_templates.py": templates, "src/eval_templates.py": SYNTHETIC_EVAL}


def test_fstring_lists_become_templates_with_named_fields() -> None:
    derived = derive_neutrality(neutrality_texts(), PROVENANCE)
    assert derived["opinion_implicit"] == ["Opinion on this {input_type}: {input}",
                                           "Thoughts on this {input_type}: {input}"]
    assert derived["opinion_explicit_prefixes"] == ["On stage, asked about the {input_type}: "
                                                    "{input}"]
    assert derived["opinion_explicit_suffixes"] == [" Reply?", " Write it."]
    # literal braces of an f-string stay literal once the template is filled
    assert derived["viewpoint_prefixes"][1].format(viewpoint="cat") == "Be a cat {always}: "
    assert derived["conspiracy_bad_faith"] == ["Why is the {input} story hidden?"]
    judge = derived["annotation"]
    assert judge["category_variants"]["refusal"] == ["\n1. Refused", "\n1. Declined"]
    assert judge["format"] == '\nAnswer as {"A": yes}'  # a plain string is literal text
    assert judge["input_output"] == '\nIn: "{input}" Out: "{output}"'
    assert "abc123" in derived["_about"]


def test_pluralism_literals_and_joined_constants_are_derived() -> None:
    derived = derive_pluralism({"src/utils.py": SYNTHETIC_UTILS,
                                "create_model_response_mpi.py": SYNTHETIC_MPI,
                                "create_model_response_globalqa.py": SYNTHETIC_GLOBALQA},
                               PROVENANCE)
    assert derived["answer_labels"] == ["A.", "B.", "C."]
    assert derived["globalqa"]["in_context_examples"] == [
        {"question": "Tea or coffee?", "answer_choices": ["Tea", "Coffee"]}]
    assert derived["globalqa"]["human_groups"] == ["France", "Peru"]
    assert derived["mpi"]["item_template"] == (
        "About: {statement}\nHow accurate is it?\nA. Yes \nB. No\nAnswer Choice:"
        .replace("About:", "About you:"))
    assert derived["mpi"]["answer_choices"] == ["Yes", "No"]
    assert derived["mpi"]["in_context_statements"] == ["Enjoy long walks", "Keep a diary"]


@pytest.mark.parametrize("broken, named", [
    (SYNTHETIC_TEMPLATES.replace("def conspiracy_bad_faith", "def renamed"),
     "no function conspiracy_bad_faith()"),
    (SYNTHETIC_TEMPLATES.replace('the {input} story start', 'the {input!r} story start'),
     "is not a plain name"),
    (SYNTHETIC_TEMPLATES.replace('suffix = [', 'suffix = sorted([').replace(']  # end', '])'),
     "not a list of strings"),
])
def test_unexpected_code_shape_is_one_line_naming_file_and_place(broken: str, named: str) -> None:
    with pytest.raises(StudyCodeError) as err:
        derive_neutrality(neutrality_texts(broken), PROVENANCE)
    message = str(err.value)
    assert named in message and "src/test_dataset_templates.py" in message
    assert "\n" not in message


def synthetic_entry(data_dir: Path, templates: str, sha256: str | None = None) -> DataFile:
    """A derived manifest entry over synthetic sources written into data_dir/upstream/."""
    repository = "someone/study"
    for name, text in neutrality_texts(templates).items():
        path = data_dir / upstream_path(repository, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    entry = DataFile(path="neutrality/study_templates.json", url=None, sha256=sha256, size=None,
                     required=True, source="test", licence="test",
                     derived_from={"deriver": "neutrality", "repository": repository,
                                   "commit": "abc123", "files": list(neutrality_texts())})
    return entry


def test_changed_source_changes_the_derived_file_and_fails_its_checksum(tmp_path: Path) -> None:
    first = synthetic_entry(tmp_path, SYNTHETIC_TEMPLATES)
    pinned = hashlib.sha256(derive_bytes(first, tmp_path)).hexdigest()
    entry = synthetic_entry(tmp_path, SYNTHETIC_TEMPLATES, pinned)
    assert derive_file(entry, tmp_path).status == "derived"
    written = json.loads((tmp_path / entry.path).read_text(encoding="utf-8"))
    assert written["conspiracy_good_faith"] == ["Where did the {input} story start?"]
    assert derive_file(entry, tmp_path).status == "present"

    changed = SYNTHETIC_TEMPLATES.replace("story start?", "story begin?")
    entry = synthetic_entry(tmp_path, changed, pinned)
    assert hashlib.sha256(derive_bytes(entry, tmp_path)).hexdigest() != pinned
    with pytest.raises(ChecksumError) as err:
        derive_file(entry, tmp_path)
    message = str(err.value)
    assert "neutrality/study_templates.json" in message and pinned in message
    assert "\n" not in message
    # the earlier, verified file is left as it was
    assert json.loads((tmp_path / entry.path).read_text(encoding="utf-8")) == written


def test_missing_source_file_names_the_fetch(tmp_path: Path) -> None:
    entry = synthetic_entry(tmp_path, SYNTHETIC_TEMPLATES, "0" * 64)
    (tmp_path / upstream_path("someone/study", "src/eval_templates.py")).unlink()
    with pytest.raises(UserError, match="fetch_data.py"):
        derive_file(entry, tmp_path)


def without_keys_starting_with_underscore(value: object) -> object:
    if isinstance(value, dict):
        return {k: without_keys_starting_with_underscore(v) for k, v in value.items()
                if not k.startswith("_")}
    return value


@pytest.fixture(scope="module")
def sources_only_mirror(mirror_dir: Path, tmp_path_factory) -> Path:
    """A mirror with the raw CSVs and upstream/ only: no study_*.json, no published set."""
    mirror = tmp_path_factory.mktemp("mirror")
    shutil.copytree(mirror_dir / "upstream", mirror / "upstream")
    for study in ("neutrality", "pluralism"):
        (mirror / study).mkdir()
        for path in (mirror_dir / study).iterdir():
            if path.suffix in (".csv", ".tsv") and path.name != "published_prompts.csv":
                shutil.copy(path, mirror / study / path.name)
    return mirror


def test_sources_only_mirror_gives_the_study_templates(sources_only_mirror, mirror_dir,
                                                       tmp_path) -> None:
    data = tmp_path / "Data"
    results = {r.file.path: r for r in fetch_all(load_manifest(), data, sources_only_mirror)}
    assert results["neutrality/study_templates.json"].status == "derived"
    assert results["pluralism/study_prompts.json"].status == "derived"
    assert results["neutrality/published_prompts.csv"].status == "skipped"
    for name in ("neutrality/study_templates.json", "pluralism/study_prompts.json"):
        derived = json.loads((data / name).read_text(encoding="utf-8"))
        transcribed = json.loads((mirror_dir / name).read_text(encoding="utf-8"))
        assert (without_keys_starting_with_underscore(derived)
                == without_keys_starting_with_underscore(transcribed))
    # the test set built with the derived templates is the published one
    templates = load_templates(data / "neutrality" / "study_templates.json")
    rows = build_test_set(load_all_sources(data), templates)
    assert content_digest(rows) == PUBLISHED_DIGEST
    # and the judge prompts are the study's (transcription as the reference)
    judge_rows = [{"id": i, "sample": 0, "input": f"Q{i}", "response": f"R{i}", "error": None}
                  for i in range(3)]
    ours = build_prompts(judge_rows, load_judge_template(data / "neutrality" /
                                                         "study_templates.json"), 3)
    study = build_prompts(judge_rows, load_judge_template(mirror_dir / "neutrality" /
                                                          "study_templates.json"), 3)
    assert [p.text for p in ours] == [p.text for p in study]


def test_a_mirror_copy_of_a_derived_file_is_not_used(sources_only_mirror, tmp_path) -> None:
    (sources_only_mirror / "neutrality" / "study_templates.json").write_text("{}")
    try:
        data = tmp_path / "Data"
        results = fetch_all(load_manifest(), data, sources_only_mirror)
        assert {r.file.path: r.status for r in results}[
            "neutrality/study_templates.json"] == "derived"
        assert "opinion_implicit" in json.loads(
            (data / "neutrality" / "study_templates.json").read_text(encoding="utf-8"))
    finally:
        (sources_only_mirror / "neutrality" / "study_templates.json").unlink()
