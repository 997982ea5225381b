"""The command line shared by scripts/create_model_response_{mpi,globalqa}.py.

The study's flags are kept with the study's meaning (--model-name: the model to load; --model:
the label naming the output, "used for saving purposes"; --data_dir, --save_dir, --cache_dir,
--huggingface_token; each also with dashes or underscores), and ours added. The Hugging Face
token comes from --huggingface_token or $HF_TOKEN and is only handed to the hub client: never
printed, never written to a row.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from backends.registry import (
    BackendSpec,
    adapter_class,
    check_flags,
    get_spec,
    load_registry,
    local_spec_for,
)
from core.errors import UserError
from core.paths import REPO_ROOT
from harness.cli import positive, rows_failed_status, script_parser, set_aside
from harness.request_cli import add_request_arguments, request_options
from harness.run_files import check_distinct
from pluralism.collect import Collection
from pluralism.collect_plan import CollectOptions, with_limit
from pluralism.globalqa import DEFAULT_COUNTRIES, load_globalqa_items, resolve_globalqa_path
from pluralism.groups import GROUP_HELP, parse_groups
from pluralism.items import load_mpi_items
from pluralism.prompts import load_templates
from pluralism.steering import DEFAULT_WORDING, SteerTarget, load_steering

DEFAULT_BACKEND = "smollm2-135m-instruct"
DISTRIBUTIONS_DIR = REPO_ROOT / "results" / "distributions"


def build_parser(dataset: str, description: str) -> argparse.ArgumentParser:
    p = script_parser(description)
    p.add_argument("--backend",
                   help=f"registry name (default: {DEFAULT_BACKEND}, or with --model-name the "
                        "Hugging Face model it names; see generate.py --list)")
    p.add_argument("--model-name", "--model_name", dest="model_name",
                   help="the model to load or ask, as the study's --model-name: without "
                        "--backend, a Hugging Face hub id or local folder; with it, the model "
                        "id that backend loads or sends")
    p.add_argument("--model", dest="label",
                   help="label naming the output, as the study's --model (\"used for saving "
                        "purposes\"): rows go to <save_dir>/<label>.jsonl and record it as "
                        "`label` (default: the backend's name)")
    p.add_argument("--data_dir", "--data-dir", dest="data_dir",
                   help=("mpi_questions.tsv, or a data folder holding it (default: "
                         "Data/pluralism/mpi_questions.tsv)") if dataset == "mpi" else
                   ("GlobalOpinionQA CSV or Parquet, or a folder holding global_opinions.csv "
                    "(default: Data/pluralism/global_opinions.csv, else the Hugging Face hub)"))
    p.add_argument("--out-dir", "--save_dir", "--save-dir", dest="save_dir", type=Path,
                   help=f"output folder (default: results/distributions/{dataset}/); rows go "
                        "to <save_dir>/<label>.jsonl")
    p.add_argument("--cache_dir", "--cache-dir", dest="cache_dir",
                   help="where downloaded models and data go (default: the Hugging Face cache)")
    p.add_argument("--huggingface_token", "--huggingface-token", dest="hf_token",
                   default=os.environ.get("HF_TOKEN"),
                   help="Hugging Face token for gated models (default: $HF_TOKEN)")
    p.add_argument("--reps", type=positive(int), default=5,
                   help="repetitions per item, each with its own drawn example labels")
    p.add_argument("--batch-size", type=positive(int), default=8,
                   help="prompts per forward pass (local models)")
    p.add_argument("--limit", type=positive(int), help="only the first N items")
    p.add_argument("--seed", type=int, default=0, help="seed of the example-label draws")
    p.add_argument("--templates", type=Path,
                   help="prompt file (default: prompts/pluralism_template.json; the study's: "
                        "Data/pluralism/study_prompts.json)")
    p.add_argument("--samples-per-item", type=positive(int),
                   help="estimate each repetition's distribution from N sampled answers "
                        "(for APIs without log-probabilities, e.g. Anthropic); flagged")
    if dataset == "globalqa":
        p.add_argument("--countries", default=",".join(DEFAULT_COUNTRIES),
                       help="comma-separated countries whose answers every kept item has "
                            f"(default: {','.join(DEFAULT_COUNTRIES)})")
    steer = p.add_argument_group("steering (steerable pluralism; the unsteered rows are "
                                 "collected too)")
    if dataset == "globalqa":
        steer.add_argument("--steer", choices=["country"],
                           help="also ask every item as someone from each of --countries")
    else:
        steer.add_argument("--steer", choices=["group"],
                           help="also ask every item as a member of each of --groups")
        steer.add_argument("--groups", help=f"groups of the human respondent file, {GROUP_HELP}")
    steer.add_argument("--steer-wording", default=DEFAULT_WORDING,
                       help="which wording of the steering file (ours: default, durmus)")
    steer.add_argument("--steering", type=Path,
                       help="steering sentences (default: prompts/steering.json)")
    local = p.add_argument_group("local models")
    local.add_argument("--dtype", choices=["auto", "bf16", "fp16", "fp32"],
                       help="weights' precision (default: registry)")
    local.add_argument("--quantization", choices=["4bit", "none"],
                       help="4-bit NF4 through bitsandbytes on a GPU (default: registry)")
    local.add_argument("--chat-template", action="store_true",
                       help="wrap each prompt in the model's chat template (default: plain text, "
                            "as the study)")
    local.add_argument("--no-prefix-cache", action="store_true",
                       help="run every prompt in full instead of sharing the examples' states")
    api = p.add_argument_group("API models")
    api.add_argument("--base-url", help="API base URL (proxies, OpenAI-compatible servers)")
    api.add_argument("--registry", type=Path, help="extra registry JSON")
    # the same request flags as generate.py and annotate.py
    add_request_arguments(p.add_argument_group(
        "requests (API models; --dry-run, --no-progress, --redo-stale and "
        "--set-aside-bad-lines for all)"),
        what="requests", always_redone=True, counts="items and requests")
    return p


#: flags that only a model on this machine can honour
LOCAL_FLAGS = {"dtype": "--dtype", "quantization": "--quantization",
               "chat_template": "--chat-template", "no_prefix_cache": "--no-prefix-cache"}


def backend_for(args: argparse.Namespace) -> tuple[BackendSpec, str | None]:
    """The registry entry to run and the model id to give it; flags it cannot honour are
    refused in one line. The study's `--model-name HF_ID` alone loads that Hugging Face model
    (the registry's entry for it, else one named after it), never the embedded one."""
    registry = load_registry(args.registry)
    model = args.model_name
    if args.backend is None and model:
        # the study's GPT-3 scripts name an API model this way (--model-name gpt-3.5-turbo)
        api = [s for s in registry.values()
               if model in (s.name, s.model_id) and not adapter_class(s).local]
        spec = api[0] if len(api) == 1 else local_spec_for(
            model, registry, get_spec(DEFAULT_BACKEND, registry))
        model = None  # the entry's own id
    else:
        spec = get_spec(args.backend or DEFAULT_BACKEND, registry)
    check_flags(spec, model=model, base_url=args.base_url, model_flag="--model-name")
    if not adapter_class(spec).local:
        given = [flag for name, flag in LOCAL_FLAGS.items() if getattr(args, name)]
        if given:
            raise UserError(f"{', '.join(given)} only apply to a model run on this machine; "
                            f"backend {spec.name!r} is an API ({spec.provider}): drop them")
    return spec, model


def steer_targets(dataset: str, args: argparse.Namespace,
                  countries: list[str]) -> tuple[tuple[SteerTarget, ...], str]:
    """The targets of a steered run and the steering file's joiner (none when unsteered)."""
    groups = getattr(args, "groups", None)
    if not args.steer:
        if groups:
            raise UserError("--groups names whom to steer to; add --steer group")
        return (), "\n\n"
    steering = load_steering(args.steering)
    if dataset == "globalqa":
        targets = [steering.country(c, args.steer_wording) for c in countries]
    else:
        if not groups:
            raise UserError(f"--steer group needs --groups, {GROUP_HELP}")
        targets = [steering.group(g, args.steer_wording) for g in parse_groups(groups)]
    return tuple(targets), steering.joiner


def main(dataset: str, description: str, argv: list[str] | None = None) -> int:
    args = build_parser(dataset, description).parse_args(argv)
    if args.hf_token:
        os.environ["HF_TOKEN"] = args.hf_token  # read by transformers and the hub client
    spec, model = backend_for(args)
    if spec.retired:
        print(f"note: {spec.name} ({spec.model_id}) is retired by its provider; "
              f"its successor is {spec.successor}")
    templates = load_templates(args.templates)
    extra: dict = {}
    countries: list[str] = []
    if dataset == "mpi":
        targets, joiner = steer_targets(dataset, args, countries)  # before reading any data
        items = load_mpi_items(args.data_dir)
    else:
        countries = [c.strip() for c in args.countries.split(",") if c.strip()]
        targets, joiner = steer_targets(dataset, args, countries)
        path = resolve_globalqa_path(args.data_dir, cache_dir=args.cache_dir,
                                     token=args.hf_token, download=not args.dry_run)
        items, report = load_globalqa_items(path, countries,
                                            max_options=len(templates.globalqa.labels))
        print(report.format())
        extra["countries"] = countries
    items = with_limit(items, args.limit)
    backend_options: dict = {}
    if adapter_class(spec).local:
        if args.dtype:
            backend_options["dtype"] = args.dtype
        if args.quantization:
            backend_options["quantization"] = args.quantization
        if args.cache_dir:
            backend_options["cache_dir"] = args.cache_dir
    options = CollectOptions(
        dataset=dataset, spec=spec, save_dir=args.save_dir or DISTRIBUTIONS_DIR / dataset,
        model=model, label=args.label, reps=args.reps, seed=args.seed, batch_size=args.batch_size,
        samples_per_item=args.samples_per_item, chat_template=args.chat_template,
        prefix_cache=not args.no_prefix_cache, base_url=args.base_url, timeout_s=args.timeout,
        run_options=request_options(args, spec, desc=f"{dataset} {spec.name}"),
        workers=args.workers, backend_options=backend_options, extra_identity=extra,
        targets=targets, steer_joiner=joiner)
    check_distinct({"the results file in --save_dir": options.out_path,
                    "the requests file in --save_dir": options.requests_path,
                    "--cache": options.run_options.cache_path}, sqlite=("--cache",))
    set_aside(args, options.requests_path, options.out_path)
    if not items:
        raise UserError(f"no {dataset} items to ask about; check --data_dir and --limit")
    collection = Collection(options, items, templates)
    if args.dry_run:
        print(collection.dry_run())
        return 0
    print(collection.run())
    # failed requests are always redone on a rerun (the collection has no --retry-errors)
    return rows_failed_status(collection.failed, "item(s)",
                              "rerun the same command to redo their failed requests")
