"""The backend registry: names, retired models, user entries, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from backends.registry import create_backend, format_registry, get_spec, load_registry
from core.errors import UserError

REPO = Path(__file__).resolve().parents[1]


def test_unknown_backend_lists_the_known_names():
    with pytest.raises(UserError) as err:
        get_spec("gpt-5-turbo-max")
    msg = str(err.value)
    assert "unknown backend 'gpt-5-turbo-max'" in msg
    for name in ("gpt-4o", "claude-3.5-sonnet", "smollm2-135m-instruct", "openai-compatible"):
        assert name in msg
    assert "\n" not in msg


def test_study_models_are_registered_with_exact_ids():
    reg = load_registry()
    assert reg["gpt-4o"].model_id == "gpt-4o-2024-08-06"
    assert reg["davinci-002"].provider == "openai-completions"
    assert reg["r1-distill-llama-70b"].options["reasoning"] is True
    assert reg["llama-3.3-70b"].options["quantization"] == "4bit"
    assert reg["olmo-2-13b"].options["dtype"] == "bf16"
    for base in ("llama-2-7b", "llama-2-13b", "llama-2-70b"):
        assert reg[base].provider == reg[base + "-chat"].provider == "hf"


def test_retired_models_point_to_registered_successors():
    reg = load_registry()
    retired = [s for s in reg.values() if s.retired]
    assert {s.name for s in retired} >= {"claude-3.5-sonnet", "gemini-1.5-flash", "gemini-1.5-pro"}
    for spec in retired:
        assert spec.successor in reg and not reg[spec.successor].retired
    assert "retired -> claude-sonnet-4.5" in format_registry(reg)


def test_prices_are_known_for_hosted_models_and_zero_locally():
    reg = load_registry()
    assert reg["gpt-4o"].price_per_1m == (2.5, 10.0)
    assert reg["smollm2-135m-instruct"].price_per_1m == (0.0, 0.0)
    assert reg["llama-3.3-70b"].price_per_1m == (0.0, 0.0)
    assert reg["openai-compatible"].price_per_1m is None


def test_params_take_defaults_and_overrides():
    spec = load_registry()["gpt-4o"]
    assert spec.params().max_tokens == 1024
    p = spec.params(temperature=0.7, max_tokens=None, seed=3)
    assert (p.temperature, p.max_tokens, p.seed) == (0.7, 1024, 3)


def test_user_registry_file_adds_and_overrides(tmp_path, monkeypatch):
    extra = tmp_path / "mine.json"
    extra.write_text(json.dumps({
        "my-vllm": {"provider": "openai-compatible", "model_id": "my/model",
                    "rate_limits": {"rpm": 100}},
        "gpt-4o": {"provider": "openai", "model_id": "gpt-4o-2024-11-20"},
    }))
    monkeypatch.setenv("CONTESTED_REGISTRY", str(extra))
    reg = load_registry()
    assert reg["my-vllm"].rpm == 100 and reg["gpt-4o"].model_id == "gpt-4o-2024-11-20"
    assert "gpt-4o-mini" in reg  # shipped entries stay


def test_bad_registry_entry_names_the_entry(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"x": {"provider": "carrier-pigeon", "model_id": "m"}}))
    with pytest.raises(UserError, match="entry 'x' has provider 'carrier-pigeon'"):
        load_registry(bad)


def test_openai_compatible_needs_model_and_base_url(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(UserError, match="--model"):
        create_backend("openai-compatible", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(UserError, match="--base-url"):
        create_backend("openai-compatible", model="m")


def test_registry_and_runner_import_no_sdk_or_torch():
    code = (
        "import sys\n"
        "from backends.registry import load_registry, format_registry\n"
        "import harness.runner, neutrality.generate\n"
        "load_registry(); format_registry()\n"
        "heavy = [m for m in ('torch', 'transformers', 'openai', 'anthropic', 'google.genai')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_http_transport_is_refused_before_anything_is_built(monkeypatch):
    from backends.registry import check_backend

    monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-real")
    monkeypatch.setenv("CONTESTED_HTTP_TRANSPORT", "curl")
    with pytest.raises(UserError, match="CONTESTED_HTTP_TRANSPORT='curl' is not a transport"):
        check_backend(get_spec("gpt-4o"))
    check_backend(get_spec("smollm2-135m-instruct"))  # a local model sends no HTTP
    monkeypatch.setenv("CONTESTED_HTTP_TRANSPORT", "httpx")
    assert check_backend(get_spec("gpt-4o")) == get_spec("gpt-4o").model_id


def test_list_shows_the_registry_when_a_users_adapter_cannot_be_imported_here(tmp_path):
    # a user's entry whose adapter lives in a package of another machine (a GPU node) must
    # not break --list, as it did not before adapters declared their capabilities
    reg = tmp_path / "mine.json"
    reg.write_text(json.dumps({"mine": {"provider": "openai", "model_id": "x",
                                        "adapter": "not_installed_pkg.mod:MyBackend"}}))
    registry = load_registry(reg)
    table = format_registry(registry)
    assert "mine" in table and "gpt-4o" in table
    assert registry["mine"].price_per_1m is None
    with pytest.raises(UserError, match="needs not_installed_pkg, which is not installed"):
        create_backend("mine", registry=registry)


@pytest.mark.parametrize("field, fix", [("base_url", "--base-url"), ("temprature", "remove it")])
def test_an_unknown_entry_field_is_refused_in_one_line_naming_it(tmp_path, capsys, field, fix):
    """A server written into an entry used to be dropped silently: the run then asked for
    --base-url as if the entry held none."""
    from commands import generate
    from harness.cli import call_main

    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"my-vllm": {
        "provider": "openai-compatible", "model_id": "my/model", field: "http://127.0.0.1:9/v1"}}))
    assert call_main(generate.main, ["--backend", "my-vllm", "--registry", str(mine),
                                     "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert f"entry 'my-vllm' has unknown field {field!r}" in err and fix in err
