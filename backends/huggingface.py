"""Local Hugging Face models through transformers: bf16/fp16/fp32 or 4-bit NF4, batched.

Generation runs in a worker thread so the event loop (progress bar, result writing) stays
responsive; one lock keeps one batch on the model at a time. Batches are left-padded, so
every prompt's last token sits at the end and generation continues from it.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backends.base import Backend, Completion, GenerationParams, Message
from backends.gguf_cache import converted_gguf_dir, gguf_package_dir, save_converted
from core.errors import UserError
from core.reasoning import split_reasoning

if TYPE_CHECKING:
    from backends.option_scores import LetterScores, ScoreJob

DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32", "auto": "auto"}
HF_TOKEN_ENV = "HF_TOKEN"
#: seconds the one look at the hub may take before a model not cached is called unreachable
HUB_PROBE_TIMEOUT_S = 5.0


def follow_hub_progress_setting() -> None:
    """transformers' bars follow HF_HUB_DISABLE_PROGRESS_BARS (set off a terminal by
    core.progress.quiet_library_bars), as the hub's own bars do: those through its logging
    ("Loading weights") and the GGUF conversion's, which calls tqdm directly."""
    if os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS", "").lower() in ("1", "true", "yes"):
        from transformers import modeling_gguf_pytorch_utils as gguf_utils
        from transformers.utils import logging

        logging.disable_progress_bar()
        # the conversion bar has no switch of its own: its module's tqdm, made silent
        if not isinstance(gguf_utils.tqdm, functools.partial):
            gguf_utils.tqdm = functools.partial(gguf_utils.tqdm, disable=True)


def quantization_config(quantization: str | None, compute_dtype: str = "bf16") -> Any:
    """transformers' BitsAndBytesConfig for `quantization` ("4bit" = NF4), or None."""
    if quantization in (None, "", "none"):
        return None
    if quantization not in ("4bit", "nf4"):
        raise UserError(f"unknown quantization {quantization!r}; use 4bit (NF4) or none")
    import torch
    from transformers import BitsAndBytesConfig

    dtype_name = DTYPES.get(compute_dtype, "bfloat16")
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=getattr(torch, "bfloat16" if dtype_name == "auto" else dtype_name),
    )


def load_kwargs(
    *,
    dtype: str = "auto",
    quantization: str | None = None,
    device: str | None = None,
    cuda_available: bool = False,
    gguf_file: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments for from_pretrained: a pure function, so tests check it without a GPU."""
    if dtype not in DTYPES:
        raise UserError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    kwargs: dict[str, Any] = {}
    if dtype != "auto":
        import torch

        kwargs["dtype"] = getattr(torch, DTYPES[dtype])
    else:
        kwargs["dtype"] = "auto"
    qc = quantization_config(quantization, dtype)
    if qc is not None:
        if not cuda_available:
            raise UserError("4-bit quantization (bitsandbytes) needs a CUDA GPU; use --dtype or a "
                            "smaller model on this machine")
        kwargs["quantization_config"] = qc
    on_gpu = cuda_available and device in (None, "auto", "cuda")
    if on_gpu:
        kwargs["device_map"] = "auto"  # spread a large model over all visible GPUs
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    if token:
        kwargs["token"] = token
    return kwargs


def answered_by(source: str, gguf_file: str | None, revision: str | None) -> str:
    """What a row records as the model that answered: the weights file (a GGUF, or a local
    folder), else the hub id and the revision loaded ("org/name@commit")."""
    if gguf_file:
        return str(Path(source).name + "/" + gguf_file) if Path(source).is_dir() else gguf_file
    if Path(source).is_dir():
        return str(Path(source).resolve())
    return f"{source}@{revision}" if revision else source


def load_failure(source: str, exc: OSError) -> str:
    """One line for a model that would not load: offline and not cached, no access (gated),
    or another reason in transformers' own first line."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "couldn't connect" in first.lower() or "offline" in first.lower():
        return (f"cannot load model {source}: it is not in the Hugging Face cache and the hub "
                "cannot be reached (offline); download it where the hub can be reached "
                f"(hf download {source}), or give a local folder")
    return (f"cannot load model {source}: {first}; check the id, and set HF_TOKEN for gated "
            "models (e.g. Llama)")


def hub_reachable(timeout_s: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """Whether the Hugging Face hub answers at all (any HTTP status counts): one request, no
    retries. Offline mode (HF_HUB_OFFLINE) counts as unreachable."""
    import urllib.error
    import urllib.request

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    try:
        urllib.request.urlopen(urllib.request.Request(constants.ENDPOINT, method="HEAD"),
                               timeout=timeout_s).close()
    except urllib.error.HTTPError:
        return True  # it answered
    except (OSError, ValueError):
        return False
    return True


def hub_cached(source: str, cache_dir: str | None) -> bool:
    """Whether the hub model `source` has its config in the Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(source, "config.json", cache_dir=cache_dir),
                          str)
    except Exception:  # not a valid repo id: nothing of it can be cached
        return False


def cache_only(source: str, cache_dir: str | None) -> bool:
    """For a model named by hub id: True to load it from the cache alone (the hub cannot be
    reached, but it is cached). Neither cached nor reachable is one line at once: the hub
    client would otherwise retry each file five times, 8 s apart, before saying so."""
    if Path(source).is_dir():
        return False
    if source.startswith((".", "/", "~")) or source.count("/") > 1:
        raise UserError(f"cannot load model {source}: no such folder (and not a Hugging Face "
                        "hub id, which is ORG/NAME); check the path")
    if hub_reachable():
        return False
    if hub_cached(source, cache_dir):
        return True
    raise UserError(load_failure(source, OSError("couldn't connect to the hub")))


class HuggingFaceBackend(Backend):
    """A transformers causal LM on this machine."""

    provider = "hf"
    local = True
    #: gated models (Llama) download with a Hugging Face token; others need none
    key_envs = (HF_TOKEN_ENV,)
    key_optional = True

    def __init__(
        self,
        model_id: str,
        *,
        base_url: str | None = None,
        timeout_s: float = 120.0,
        dtype: str = "auto",
        quantization: str | None = None,
        device: str | None = None,
        gguf_file: str | None = None,
        gguf_package: str | None = None,
        batch_size: int = 1,
        reasoning: bool = False,
        model_path: str | None = None,
        cache_dir: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model_id, **options)
        self.base_url = None
        self.reasoning = reasoning
        self.preferred_batch_size = max(1, int(batch_size))
        self._lock = threading.Lock()
        # always the same worker thread: torch keeps a thread pool per calling thread, so
        # hopping between executor threads would leave several pools competing for the cores
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hf-generate")
        source = model_path or model_id
        if gguf_package:
            source = str(gguf_package_dir(gguf_package))
            if gguf_file and not (Path(source) / gguf_file).is_file():
                raise UserError(f"{gguf_file} not found in {source}; reinstall {gguf_package}")
        self.tokenizer, self.model = self._load(source, dtype, quantization, device, gguf_file,
                                                cache_dir, gguf_package)
        self.model_version = answered_by(source, gguf_file,
                                         getattr(self.model.config, "_commit_hash", None))
        # the same model id at another precision answers differently: keep their caches apart
        self.cache_identity = {"dtype": dtype, "quantization": quantization,
                               "gguf_file": gguf_file}

    def _load(self, source: str, dtype: str, quantization: str | None, device: str | None,
              gguf_file: str | None, cache_dir: str | None = None,
              gguf_package: str | None = None) -> tuple[Any, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        follow_hub_progress_setting()
        cuda = torch.cuda.is_available()
        kwargs = load_kwargs(dtype=dtype, quantization=quantization, device=device,
                             cuda_available=cuda, gguf_file=gguf_file,
                             token=os.environ.get(HF_TOKEN_ENV))
        if cache_dir:  # where downloaded weights go (default: the Hugging Face cache)
            kwargs["cache_dir"] = str(cache_dir)
        converted = converted_gguf_dir(source, gguf_file, gguf_package) if gguf_file else None
        if converted is not None and converted.is_dir():
            source = str(converted)  # converted before: load it as a plain checkpoint
            kwargs.pop("gguf_file")
        if cache_only(source, kwargs.get("cache_dir")):
            kwargs["local_files_only"] = True
        tok_kwargs = {k: kwargs[k] for k in ("gguf_file", "token", "cache_dir",
                                             "local_files_only") if k in kwargs}
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, **tok_kwargs)
            model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
        except OSError as exc:
            raise UserError(load_failure(source, exc)) from exc
        if converted is not None and "gguf_file" in kwargs:
            save_converted(tokenizer, model, converted)
        if "device_map" not in kwargs:
            target = device if device not in (None, "auto") else ("cuda" if cuda else "cpu")
            model = model.to(target)
        model.eval()
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer, model

    # ---- prompts -------------------------------------------------------------------------
    @property
    def has_chat_template(self) -> bool:
        """Whether the tokenizer has a chat template (a base model's has none)."""
        return bool(getattr(self.tokenizer, "chat_template", None))

    def prompt_text(self, messages: list[Message]) -> str:
        """The model's chat template; plain text for a tokenizer without one (base models)."""
        if self.has_chat_template:
            return self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        return "\n\n".join(m["content"] for m in messages)

    # ---- generation ------------------------------------------------------------------------
    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        return (await self.complete_batch([messages], params))[0]

    async def complete_batch(
        self, batch: list[list[Message]], params: GenerationParams
    ) -> list[Completion]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.generate, batch, params)

    def generate(self, batch: list[list[Message]], params: GenerationParams) -> list[Completion]:
        """One padded generate() call for the whole batch (blocking)."""
        import torch

        texts = [self.prompt_text(m) for m in batch]
        templated = self.has_chat_template
        # a chat template already holds the special tokens (BOS) it needs
        enc = self.tokenizer(texts, return_tensors="pt", padding=True,
                             add_special_tokens=not templated)
        device = next(self.model.parameters()).device
        enc = {k: v.to(device) for k, v in enc.items()}
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if params.temperature and params.temperature > 0:
            gen_kwargs.update(do_sample=True, temperature=params.temperature)
            if params.top_p is not None:
                gen_kwargs["top_p"] = params.top_p
        else:
            gen_kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with self._lock, torch.inference_mode():
            if gen_kwargs["do_sample"] and params.seed is not None:
                torch.manual_seed(params.seed)
            out = self.model.generate(**enc, **gen_kwargs)
        prompt_len = enc["input_ids"].shape[1]
        eos = self._eos_ids()
        results = []
        for i in range(len(batch)):
            ids = out[i, prompt_len:].tolist()
            n = len(ids)
            finish = "length"
            for j, t in enumerate(ids):
                if t in eos:
                    n, finish = j, "stop"
                    break
            text = self.tokenizer.decode(ids[:n], skip_special_tokens=True)
            reasoning = None
            if self.reasoning:
                reasoning, text = split_reasoning(text)
            results.append(Completion(
                text=text,
                finish_reason=finish,
                prompt_tokens=int(enc["attention_mask"][i].sum()),
                completion_tokens=n,
                model_version=self.model_version,
                reasoning=reasoning,
            ))
        return results

    # ---- scoring ---------------------------------------------------------------------------
    def option_logprobs(self, jobs: Sequence[ScoreJob], *, prefix_cache: bool = True,
                        add_special_tokens: bool | None = None,
                        ) -> Iterator[list[tuple[int, LetterScores]]]:
        """Each job's next-token log-probability of each of its options (letters, digits),
        one forward pass per text, `preferred_batch_size` texts a pass, no generation.

        Job texts are final (any chat template already applied, as `prompt_text` does); jobs
        of one `group` share the key/value states of their common token prefix (a rubric, the
        drawn examples), run once. Yields (job index, scores) lists as each batch finishes.
        """
        from backends.option_scores import LocalScorer

        if add_special_tokens is None:  # a chat template already holds its BOS
            add_special_tokens = not self.has_chat_template
        scorer = LocalScorer(self.model, self.tokenizer, batch_size=self.preferred_batch_size,
                             prefix_cache=prefix_cache, add_special_tokens=add_special_tokens)
        batches = scorer.score(jobs)
        while True:
            with self._lock:
                batch = next(batches, None)
            if batch is None:
                return
            yield batch

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if isinstance(source, int):
                ids.add(source)
            elif source:
                ids.update(source)
        return ids
