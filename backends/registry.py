"""The backend registry: names users type, mapped to a provider and an exact model.

The data lives in registry.json beside this module (users may extend it, or name their own
file in CONTESTED_REGISTRY, merged over the shipped one). Nothing here imports a provider
SDK or torch: `create_backend` imports the one adapter it needs, when it needs it.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.base import Backend, GenerationParams
from backends.provider_http import http_transport
from core.errors import UserError
from core.files import read_json
from core.suggest import did_you_mean

REGISTRY_PATH = Path(__file__).with_name("registry.json")
REGISTRY_ENV = "CONTESTED_REGISTRY"

#: provider name -> (module, class); imported only when used (`adapter_class`). What each
#: adapter is and can do (local, key, top logprobs, batch API, seed) is on its class.
ADAPTERS: dict[str, tuple[str, str]] = {
    "openai": ("backends.openai_chat", "OpenAIChatBackend"),
    "openai-compatible": ("backends.openai_chat", "OpenAICompatibleBackend"),
    "openai-completions": ("backends.openai_completions", "OpenAICompletionsBackend"),
    "anthropic": ("backends.anthropic_messages", "AnthropicBackend"),
    "gemini": ("backends.gemini", "GeminiBackend"),
    "hf": ("backends.huggingface", "HuggingFaceBackend"),
}


@dataclass(frozen=True)
class BackendSpec:
    """One registry entry."""

    name: str
    provider: str
    model_id: str | None
    defaults: dict[str, Any] = field(default_factory=dict)
    rpm: float | None = None
    tpm: float | None = None
    price_input: float | None = None  # USD per 1M input tokens
    price_output: float | None = None  # USD per 1M output tokens
    retired: bool = False
    successor: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    requires: tuple[str, ...] = ()  # command-line values the entry cannot do without
    notes: str = ""
    #: "package.module:Class" of a user's own adapter, instead of the provider's shipped one
    adapter: str | None = None
    #: a model too small for its answers or judgements to measure anything (the embedded one)
    demo_only: bool = False

    @property
    def price_per_1m(self) -> tuple[float, float] | None:
        if self.price_input is None or self.price_output is None:
            # a model on the user's own hardware has no per-token price
            return (0.0, 0.0) if runs_locally(self) else None
        return (self.price_input, self.price_output)

    def params(self, **overrides: Any) -> GenerationParams:
        """The entry's default parameters, with non-None overrides applied."""
        known = GenerationParams.__dataclass_fields__
        values = {k: v for k, v in self.defaults.items() if k in known}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return GenerationParams(**values)


#: what a registry name may be: it becomes a file name (results/generations/<name>.jsonl)
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def check_name(name: str, source: Path | str) -> None:
    """Refuse a registry name that is not a plain file name (no '/', no leading dot)."""
    if not NAME_PATTERN.fullmatch(name):
        raise UserError(f"{source}: entry name {name!r} may hold only letters, digits, '.', "
                        "'_' and '-', and may not begin with a dot; rename it")


#: the fields a registry entry may hold; any other is refused, never silently ignored
ENTRY_FIELDS = ("provider", "model_id", "adapter", "defaults", "rate_limits", "price_per_1m",
                "retired", "successor", "options", "requires", "notes", "demo_only")
#: what to do instead of a field a user may expect an entry to hold
_FIELD_FIX = {"base_url": "a server is given per run with --base-url URL",
              "model": "the model is 'model_id'"}


def _check_fields(name: str, entry: dict[str, Any], source: Path) -> None:
    unknown = [k for k in entry if k not in ENTRY_FIELDS and not str(k).startswith("_")]
    if unknown:
        field_name = unknown[0]
        fix = _FIELD_FIX.get(field_name, "remove it")
        raise UserError(f"{source}: entry {name!r} has unknown field {field_name!r} ({fix});"
                        f"{did_you_mean(field_name, ENTRY_FIELDS)} an entry holds "
                        f"{', '.join(ENTRY_FIELDS)}")


def _spec(name: str, entry: Any, source: Path) -> BackendSpec:
    check_name(name, source)
    if not isinstance(entry, dict):
        raise UserError(f"{source}: entry {name!r} must be a JSON object")
    _check_fields(name, entry, source)
    provider = entry.get("provider")
    adapter = entry.get("adapter")
    if adapter is not None and (not isinstance(adapter, str) or ":" not in adapter):
        raise UserError(f"{source}: entry {name!r} has adapter {adapter!r}; write it as "
                        "'package.module:ClassName'")
    if provider not in ADAPTERS and adapter is None:
        raise UserError(
            f"{source}: entry {name!r} has provider {provider!r}; use one of "
            + ", ".join(sorted(ADAPTERS))
            + " (or name your own class in 'adapter')"
        )
    if "model_id" not in entry:
        raise UserError(
            f"{source}: entry {name!r} has no model_id; add it (null if --model is required)"
        )
    limits = entry.get("rate_limits") or {}
    price = entry.get("price_per_1m") or {}
    return BackendSpec(
        name=name,
        provider=provider,
        model_id=entry["model_id"],
        defaults=dict(entry.get("defaults") or {}),
        rpm=limits.get("rpm"),
        tpm=limits.get("tpm"),
        price_input=price.get("input"),
        price_output=price.get("output"),
        retired=bool(entry.get("retired", False)),
        successor=entry.get("successor"),
        options=dict(entry.get("options") or {}),
        requires=tuple(entry.get("requires") or ()),
        notes=entry.get("notes", ""),
        adapter=adapter,
        demo_only=bool(entry.get("demo_only", False)),
    )


def _read(path: Path) -> dict[str, Any]:
    data = read_json(path, "backend registry", "fix the path")
    if not isinstance(data, dict):
        raise UserError(f"backend registry {path} must hold a JSON object of entries")
    return data


def load_registry(path: str | Path | None = None) -> dict[str, BackendSpec]:
    """The shipped registry, with the entries of `path` (or $CONTESTED_REGISTRY) over it."""
    entries: dict[str, tuple[Any, Path]] = {
        k: (v, REGISTRY_PATH) for k, v in _read(REGISTRY_PATH).items()
    }
    extra = path if path is not None else os.environ.get(REGISTRY_ENV)
    if extra:
        p = Path(extra)
        entries.update({k: (v, p) for k, v in _read(p).items()})
    return {k: _spec(k, v, src) for k, (v, src) in entries.items() if not k.startswith("_")}


def get_spec(name: str, registry: dict[str, BackendSpec] | None = None) -> BackendSpec:
    """The entry called `name`, or a UserError listing the known names."""
    registry = load_registry() if registry is None else registry
    if name not in registry:
        raise UserError(
            f"unknown backend {name!r};{did_you_mean(name, registry)} known backends: "
            f"{', '.join(sorted(registry))} "
            "(see scripts/generate.py --list)"
        )
    return registry[name]


def adapter_class(spec: BackendSpec) -> type[Backend]:
    """The adapter class of a registry entry, imported only now (an SDK loads when used):
    its class attributes say what the backend is and can do, with no client made and no
    weights loaded (`Backend.local`, `key_envs`, `max_top_logprobs`, `batch_adapter` ...)."""
    module_name, class_name = (
        spec.adapter.split(":", 1) if spec.adapter else ADAPTERS[spec.provider]
    )
    return _import_class(spec.name, module_name, class_name)


def runs_locally(spec: BackendSpec) -> bool:
    """Whether the entry's model runs on this machine; a user's adapter that cannot be
    imported here (its package lives on another machine) counts as hosted, so --list and
    prices still work. Building the backend reports the missing package."""
    try:
        return adapter_class(spec).local
    except UserError:
        if spec.adapter:
            return False
        raise


def provider_class(provider: str) -> type[Backend]:
    """The shipped adapter class of a provider name (a key of ADAPTERS)."""
    return _import_class(provider, *ADAPTERS[provider])


def _import_class(name: str, module_name: str, class_name: str) -> type[Backend]:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(
            f"backend {name!r} needs {exc.name or module_name}, which is not installed; "
            "run the README's set-up (pip install -r requirements.txt)"
        ) from exc
    cls = getattr(module, class_name, None)
    if cls is None:
        raise UserError(f"backend {name!r}: {module_name} has no class {class_name}")
    return cls


def _adapter_options(spec: BackendSpec, options: dict[str, Any]) -> dict[str, Any]:
    return {**spec.options, **{k: v for k, v in options.items() if v is not None}}


def check_flags(spec: BackendSpec, *, model: str | None = None,
                base_url: str | None = None, model_flag: str = "--model") -> None:
    """Refuse, in one line, a flag the backend cannot honour, rather than ignore it and label
    the rows with what did not run: --model on the embedded model (its weights are the
    package's file), --base-url on a model run on this machine. `model_flag`: the flag that
    names the model in the calling script (the collection scripts': --model-name, as in the
    study, where --model is the output's label)."""
    package = spec.options.get("gguf_package")
    if model and model != spec.model_id and package:
        raise UserError(
            f"backend {spec.name!r} runs the embedded model shipped in {package} and cannot run "
            f"{model_flag} {model}; choose a backend that serves it with --backend NAME (see "
            f"generate.py --list), e.g. --backend openai-compatible {model_flag} NAME "
            "--base-url URL")
    if base_url and adapter_class(spec).local:
        raise UserError(f"backend {spec.name!r} runs on this machine and sends no request to a "
                        f"server: drop --base-url, or choose an API backend")


def local_spec_for(model: str, registry: dict[str, BackendSpec],
                   like: BackendSpec) -> BackendSpec:
    """The backend that loads the Hugging Face model `model` (a hub id or a local folder), as
    the pluralism study's --model_name did: the registry's local entry for that id (with its
    precision), else one named after the id, with `like`'s generation defaults. An entry that
    serves the id from weights on this machine (the embedded SmolLM2's GGUF) counts too: the
    hub is not asked for what is already here; a full-precision entry is preferred."""
    serving = sorted((spec for spec in registry.values()
                      if spec.model_id == model and adapter_class(spec).local),
                     key=lambda spec: bool(spec.options.get("gguf_package")))
    if serving:
        return serving[0]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(model.rstrip("/")).name) or "hf-model"
    return BackendSpec(name=name, provider="hf", model_id=model, defaults=dict(like.defaults),
                       notes="a Hugging Face model named by --model_name")


def check_backend(spec: BackendSpec, *, model: str | None = None, base_url: str | None = None,
                  **options: Any) -> str:
    """Everything create_backend would refuse, found from the arguments and the environment
    alone (no client, no model loaded): a flag the backend cannot honour, a missing --model
    or --base-url, a missing API key. Returns the model id. Run it before opening an output,
    so a refusal leaves nothing behind.
    """
    check_flags(spec, model=model, base_url=base_url)
    model_id = model or spec.model_id
    if "model" in spec.requires and not model:
        raise UserError(f"backend {spec.name!r} needs --model NAME (the model the server serves)")
    # the OpenAI SDK's own variable counts as a given base URL
    if "base_url" in spec.requires and not (base_url or os.environ.get("OPENAI_BASE_URL")):
        raise UserError(f"backend {spec.name!r} needs --base-url URL "
                        "(e.g. http://localhost:8000/v1)")
    if not model_id:
        raise UserError(f"backend {spec.name!r} has no model id; give --model NAME")
    if not adapter_class(spec).local:
        http_transport()  # refuses a CONTESTED_HTTP_TRANSPORT that names no transport
    check = getattr(adapter_class(spec), "check_credentials", None)
    if check is not None:
        check(**_adapter_options(spec, options))
    return model_id


def create_backend(
    name: str,
    *,
    model: str | None = None,
    base_url: str | None = None,
    timeout_s: float = 120.0,
    registry: dict[str, BackendSpec] | None = None,
    **options: Any,
) -> Backend:
    """Build the adapter for registry entry `name`; `model` overrides its model id.

    Extra keyword options (e.g. batch_size for a local model) override the entry's options.
    """
    spec = get_spec(name, registry)
    model_id = check_backend(spec, model=model, base_url=base_url, **options)
    cls = adapter_class(spec)
    backend: Backend = cls(model_id, base_url=base_url, timeout_s=timeout_s,
                           **_adapter_options(spec, options))
    backend.name = name  # type: ignore[attr-defined]
    if getattr(backend, "base_url", None) is None:
        backend.base_url = base_url  # type: ignore[attr-defined]
    return backend


def format_registry(registry: dict[str, BackendSpec] | None = None) -> str:
    """A table of the registry for --list."""
    registry = load_registry() if registry is None else registry
    lines = [f"{'name':<24} {'provider':<19} {'model id':<44} {'$/1M in/out':<14} status"]
    for spec in sorted(registry.values(), key=lambda s: (s.provider, s.name)):
        price = spec.price_per_1m
        cost = "-" if price is None else f"{price[0]:g}/{price[1]:g}"
        if runs_locally(spec):
            cost = "local"
        status = f"retired -> {spec.successor}" if spec.retired else ""
        model_id = spec.model_id or "(--model NAME)"
        lines.append(f"{spec.name:<24} {spec.provider:<19} {model_id:<44} {cost:<14} {status}")
    return "\n".join(lines)
