"""Derive the pluralism study's prompt data (study_prompts.json) from its own source files.

The scripts keep their in-context examples and answer labels as literals in their
`__main__` blocks, and src/utils.py builds the MPI item from string constants joined with
`+`. The layout prose below is ours: it describes how pluralism/prompts.py assembles a
prompt, which the study does in code (create_opinionqa_prefix, create_mpi_prefix).
"""

from __future__ import annotations

import ast
from typing import Any

from sources.study_code import StudySource

UTILS_FILE = "src/utils.py"
MPI_FILE = "create_model_response_mpi.py"
GLOBALQA_FILE = "create_model_response_globalqa.py"
SOURCE_FILES = (UTILS_FILE, MPI_FILE, GLOBALQA_FILE)

ABOUT = (
    "Prompt data of Sorensen et al. (2024), 'A Roadmap to Pluralistic Alignment', derived by "
    "scripts/fetch_data.py from {files} of {repository} at commit {commit}. Both experiments "
    "prepend 3 in-context examples whose 'chosen' answer letter is drawn at random for every "
    "repetition (5 repetitions per item), then read the next-token distribution after "
    "'Answer Choice:'."
)
GLOBALQA_ITEM_LAYOUT = ("question, then each option as '<label> <option>', then "
                        "'\\n Answer Choice:', all of these parts joined by single spaces")
GLOBALQA_EXAMPLE_LAYOUT = (
    "same as an item, but the drawn label (a random option index for each example, per "
    "repetition) is appended right after 'Answer Choice:' followed by '\\n\\n'; the 3 examples "
    "joined by single spaces, then one space, then the item")
MPI_EXAMPLE_LAYOUT = (
    "item_template filled with the statement, then the drawn label (3 distinct labels drawn "
    "from A.-E. per repetition) appended right after 'Answer Choice:', then '\\n\\n\\n\\n'; the "
    "3 examples joined by single spaces, then the item appended with no separator")
MPI_HUMAN_DATA = (
    "IPIP-NEO-120 responses (Johnson, 2014): one column per item in the order of "
    "mpi_questions.tsv (the study takes the last 120 columns of its file), values 1-5 (1 = Very "
    "Inaccurate ... 5 = Very Accurate), 0 = not answered. Before building human distributions "
    "the study maps 1<->5 and 2<->4 on minus-keyed items (key = -1), describing them as "
    "'labelled backwards on the original survey'; whether a given file needs that depends on "
    "how it was coded. Answer letter A = Very Accurate (5) ... E = Very Inaccurate (1).")


def _globalqa(source: StudySource) -> dict[str, Any]:
    main = source.main_block()
    examples = source.literal(source.assignment(main, "prefix_df", "the __main__ block"),
                              "prefix_df")
    if not isinstance(examples, dict):
        raise source.fail("prefix_df is not a dict of in-context examples")
    groups_call = source.calls(main, "create_index")[0]
    groups = [source.literal(arg, "create_index()") for arg in groups_call.args[1:]]
    return {
        "item_layout": GLOBALQA_ITEM_LAYOUT,
        "example_layout": GLOBALQA_EXAMPLE_LAYOUT,
        "in_context_examples": [{"question": e["question"], "answer_choices": e["answer_choices"]}
                                for e in examples.values()],
        "human_groups": groups,
        "selection_rule": f"questions whose human selections include both {' and '.join(groups)}",
    }


def _mpi_item_template(utils: StudySource) -> str:
    """create_mpi_prompt(statement): its string constants and the `+` that joins them."""
    function = utils.function("create_mpi_prompt")
    where = "create_mpi_prompt()"
    names = {a.arg: "{" + a.arg + "}" for a in function.args.args}
    for node in function.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            names[node.targets[0].id] = utils.template(node.value, where, names)
        elif isinstance(node, ast.Return) and node.value is not None:
            return utils.template(node.value, where, names)
    raise utils.fail(f"{where} returns no string")


def _mpi_answer_choices(source: StudySource) -> list[str]:
    """The "answer_choices" list the script stores with every MPI item."""
    for node in ast.walk(source.main_block()):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "answer_choices":
                    return list(source.literal(value, "answer_choices"))  # type: ignore[arg-type]
    raise source.fail("no \"answer_choices\" list in the __main__ block")


def derive_pluralism(texts: dict[str, str], provenance: dict[str, str]) -> dict[str, Any]:
    """texts: source path (as in SOURCE_FILES) -> file text. provenance: repository, commit."""
    utils = StudySource(UTILS_FILE, texts[UTILS_FILE])
    mpi = StudySource(MPI_FILE, texts[MPI_FILE])
    globalqa = StudySource(GLOBALQA_FILE, texts[GLOBALQA_FILE])
    main = mpi.main_block()
    return {
        "_about": ABOUT.format(files=", ".join(SOURCE_FILES), **provenance),
        "answer_labels": globalqa.string_list(globalqa.main_block(), "answer_labels",
                                              "the __main__ block"),
        "globalqa": _globalqa(globalqa),
        "mpi": {
            "item_template": _mpi_item_template(utils),
            "answer_choices": _mpi_answer_choices(mpi),
            "in_context_statements": mpi.string_list(main, "prefix_statements",
                                                     "the __main__ block"),
            "example_layout": MPI_EXAMPLE_LAYOUT,
            "human_data": MPI_HUMAN_DATA,
        },
    }
