"""Issue 15.3: a study config with a wrong type is one line naming the key path, the type
expected and the value found, before anything runs; a lone model name is one model."""

from __future__ import annotations

import pytest

from core.errors import UserError
from study.stages import load_config, study_stages


@pytest.mark.parametrize(("text", "message"), [
    ("neutrality: [gpt-4o]\n",
     r"neutrality should be a mapping of keys to values, found \['gpt-4o'\]"),
    ("neutrality:\n  models: [gpt-4o]\n  generation: 5\n",
     r"neutrality\.generation should be a mapping of keys to values, found 5"),
    ("- gpt-4o\n- claude\n", r"the whole file should be a mapping of keys to values, found"),
    ("results_dir: 5\n", r"results_dir should be a string, found 5"),
    ("neutrality:\n  models: [gpt-4o]\n  sample_per_task: many\n",
     r"neutrality\.sample_per_task should be a whole number, found 'many'"),
    ("neutrality:\n  models: [gpt-4o, 7]\n", r"neutrality\.models\[1\] should be a string"),
    ("neutrality:\n  models: [../../x]\n", r"neutrality\.models\[0\] should be a registry name"),
    ("pluralism:\n  pairs: [[a, b, c]]\n", r"pluralism\.pairs\[0\] should be a pair"),
    ("pluralism:\n  mpi: {models: [m], reps: 0}\n", r"pluralism\.mpi\.reps should be a number "
     r"above 0, found 0"),
])
def test_wrong_types_are_one_line_naming_path_type_and_value(tmp_path, text, message) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(text)
    with pytest.raises(UserError, match=message) as info:
        load_config(config)
    assert "\n" not in str(info.value) and str(config) in str(info.value)


def test_a_lone_model_name_is_one_model_not_letters(tmp_path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("neutrality:\n  models: gpt-4o\n  judge: gpt-4o\n"
                      "pluralism:\n  mpi: {models: llama-2-7b}\n")
    stages = [s.name for s in study_stages(load_config(config))]
    assert "generate:gpt-4o" in stages and "annotate:gpt-4o" in stages
    assert "mpi:llama-2-7b" in stages
    assert not any(s in stages for s in ("generate:g", "generate:p"))


def test_the_shipped_configs_pass(tmp_path) -> None:
    for name in ("demo", "neutrality_study", "pluralism_study"):
        assert study_stages(load_config(f"configs/{name}.yaml"))
