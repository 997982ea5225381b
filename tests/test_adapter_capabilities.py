"""What each adapter is and can do is declared on its class, read without building it.

Local or hosted, the key's variables, the top log-probabilities per token, the batch API and
the seed come from the adapter class (`backends.registry.adapter_class`); the callers that kept
their own tables (LOCAL_PROVIDERS, TOP_K, BATCH_ADAPTERS, `provider == "hf"`) ask it instead.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from annotations.probs_run import api_params, check_probs_judge
from backends.base import Backend, Completion, GenerationParams, Message
from backends.registry import adapter_class, get_spec, load_registry
from core.errors import UserError
from harness.batch import check_batch_backend
from pluralism.collect_plan import choose_method, request_params

REPO = Path(__file__).resolve().parents[1]
#: the packages outside backends/ (the ones that must never load torch)
NON_BACKEND_PACKAGES = ("analysis", "annotations", "contested_questions", "core", "harness",
                        "neutrality", "pluralism", "prompts", "scripts", "sources")


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_capabilities_are_read_from_the_class_without_a_client_sdk_or_weights():
    # no key is set and no model is on disk: nothing may be built, no SDK imported
    code = (
        "import json, sys\n"
        "from backends.registry import adapter_class, load_registry\n"
        "caps = {}\n"
        "for name, spec in load_registry().items():\n"
        "    c = adapter_class(spec)\n"
        "    caps[name] = [c.local, list(c.key_envs), c.key_optional, c.max_top_logprobs,\n"
        "                  c.batch_adapter is not None, c.takes_seed, c.option_reading()]\n"
        "loaded = [m for m in ('openai', 'anthropic', 'google.genai', 'torch', 'transformers')\n"
        "          if m in sys.modules]\n"
        "print(json.dumps({'caps': caps, 'loaded': loaded}))\n")
    got = json.loads(_run(code))
    assert got["loaded"] == []
    caps = got["caps"]
    # the providers' documented limits: 20 alternatives on chat and Gemini, 5 on the legacy
    # completions endpoint, none on Anthropic; batch APIs at OpenAI and Anthropic only
    assert caps["gpt-4o"] == [False, ["OPENAI_API_KEY"], False, 20, True, True, "top_logprobs"]
    assert caps["davinci-002"] == [False, ["OPENAI_API_KEY"], False, 5, False, True,
                                   "top_logprobs"]
    assert caps["claude-3.5-sonnet"] == [False, ["ANTHROPIC_API_KEY"], False, 0, True, False,
                                         None]
    assert caps["gemini-2.5-flash"] == [False, ["GEMINI_API_KEY", "GOOGLE_API_KEY"], False, 20,
                                        False, True, "top_logprobs"]
    assert caps["openai-compatible"] == [False, ["OPENAI_COMPATIBLE_API_KEY"], True, 20, False,
                                         True, "top_logprobs"]
    assert caps["smollm2-135m-instruct"] == [True, ["HF_TOKEN"], True, 0, False, True,
                                             "forward_pass"]


def test_the_option_request_is_one_greedy_token_with_the_providers_top_k():
    gpt, davinci = get_spec("gpt-4o"), get_spec("davinci-002")
    one_token = dict(temperature=0.0, max_tokens=1)
    assert request_params("top_logprobs", gpt) == GenerationParams(**one_token, top_logprobs=20)
    assert api_params(davinci) == GenerationParams(**one_token, top_logprobs=5)
    with pytest.raises(NotImplementedError):
        adapter_class(get_spec("claude-3.5-sonnet")).option_params()


class SevenLogprobs(Backend):
    """A user's adapter for a server that returns 7 top log-probabilities."""

    max_top_logprobs = 7

    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        return Completion(text="A")


class NoLogprobs(Backend):
    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        return Completion(text="A")


def _user_registry(tmp_path: Path, **entries: str) -> dict:
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({name: {"provider": "custom", "model_id": "m",
                                       "adapter": f"{__name__}:{cls}"}
                                for name, cls in entries.items()}))
    return load_registry(path)


def test_a_user_adapter_is_read_by_what_its_class_declares(tmp_path):
    reg = _user_registry(tmp_path, seven="SevenLogprobs", none="NoLogprobs")
    assert choose_method(reg["seven"], None) == "top_logprobs"
    assert request_params("top_logprobs", reg["seven"]).top_logprobs == 7
    assert check_probs_judge(reg["seven"]) == "api"
    with pytest.raises(UserError, match="gives no log-probabilities.*--samples-per-item"):
        choose_method(reg["none"], None)
    with pytest.raises(UserError, match="--judge-mode json"):
        check_probs_judge(reg["none"])
    assert reg["none"].price_per_1m is None  # hosted, no price given: unknown, not free


def test_batch_api_is_refused_for_an_adapter_class_without_one(tmp_path):
    reg = load_registry()
    check_batch_backend(reg["gpt-4o"])
    check_batch_backend(reg["claude-3.5-sonnet"])
    for name in ("openai-compatible", "gemini-2.5-flash", "davinci-002",
                 "smollm2-135m-instruct"):
        with pytest.raises(UserError, match="no batch API here.*anthropic, openai providers"):
            check_batch_backend(reg[name])
    from backends.anthropic_batch import AnthropicBatch
    from backends.openai_batch import OpenAIBatch

    assert adapter_class(reg["gpt-4o"]).batch_adapter_class() is OpenAIBatch
    assert adapter_class(reg["claude-3.5-sonnet"]).batch_adapter_class() is AnthropicBatch
    assert adapter_class(reg["openai-compatible"]).batch_adapter_class() is None


def test_no_package_outside_backends_loads_torch_or_transformers():
    code = (
        "import importlib, pkgutil, sys\n"
        f"for pkg in {NON_BACKEND_PACKAGES!r}:\n"
        "    mod = importlib.import_module(pkg)\n"
        "    for info in pkgutil.walk_packages(mod.__path__, pkg + '.'):\n"
        "        if not info.name.endswith('__main__'):\n"
        "            importlib.import_module(info.name)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'bitsandbytes') if m in sys.modules))\n")
    assert _run(code).strip() == "[]"


def test_backends_import_no_other_package_of_the_project_but_core():
    """backends/ is below everything but core/: no cycle through pluralism or harness."""
    above = {"analysis", "annotations", "contested_questions", "harness", "neutrality",
             "pluralism", "scripts", "sources"}
    found = []
    for path in sorted((REPO / "backends").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in above]
    assert found == []


def test_study_estimate_names_the_keys_each_adapter_class_needs(monkeypatch):
    from study.estimate import _needs_key

    for env in ("OPENAI_API_KEY", "OPENAI_COMPATIBLE_API_KEY", "ANTHROPIC_API_KEY",
                "GEMINI_API_KEY", "GOOGLE_API_KEY", "HF_TOKEN"):
        monkeypatch.delenv(env, raising=False)
    reg = load_registry()
    missing: dict[str, list[str]] = {}
    for name in ("gpt-4o", "davinci-002", "claude-3.5-sonnet", "gemini-2.5-flash",
                 "openai-compatible", "llama-3.3-70b", "olmo-2-13b", "smollm2-135m-instruct"):
        _needs_key(reg[name], name, missing)
    # a compatible server's key and an ungated model's token are optional
    assert missing == {"OPENAI_API_KEY": ["gpt-4o", "davinci-002"],
                       "ANTHROPIC_API_KEY": ["claude-3.5-sonnet"],
                       "GEMINI_API_KEY or GOOGLE_API_KEY": ["gemini-2.5-flash"],
                       "HF_TOKEN": ["llama-3.3-70b"]}
    monkeypatch.setenv("GOOGLE_API_KEY", "g-key-set-here")
    missing = {}
    _needs_key(reg["gemini-2.5-flash"], "gemini-2.5-flash", missing)
    assert missing == {}


def test_a_compatible_server_is_recorded_as_openai_compatible(monkeypatch):
    from backends.registry import create_backend

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_COMPATIBLE_API_KEY", raising=False)
    backend = create_backend("openai-compatible", model="qwen", base_url="http://127.0.0.1:9/v1")
    # the provider goes into every row and cache key: the name users know, once
    assert backend.provider == "openai-compatible"
    assert type(backend).__name__ == "OpenAICompatibleBackend"
    with pytest.raises(UserError, match="--base-url"):
        create_backend("openai-compatible", model="qwen")


def test_redaction_cuts_the_key_of_every_shipped_adapter():
    from backends.registry import ADAPTERS, provider_class
    from harness.redact import KEY_ENVS

    declared = {e for p in ADAPTERS for e in provider_class(p).key_envs}
    assert declared == set(KEY_ENVS)
