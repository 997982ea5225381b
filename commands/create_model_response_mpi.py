"""Collect a model's answer distributions over the 120 MPI items (one JSON line per item).

    python scripts/create_model_response_mpi.py                      # embedded SmolLM2, CPU
    python scripts/create_model_response_mpi.py --backend llama-2-13b --batch-size 16
    python scripts/create_model_response_mpi.py --backend gpt-3.5-turbo --dry-run
    python scripts/create_model_response_mpi.py --backend claude-sonnet-4.5 --samples-per-item 20
    python scripts/create_model_response_mpi.py --templates Data/pluralism/study_prompts.json
    python scripts/create_model_response_mpi.py --model-name meta-llama/Llama-2-7b-hf \
        --model llama2_7b_mpi --huggingface_token TOKEN    # the study's command

Rows go to results/distributions/mpi/<label>.jsonl (or --save_dir): the label is --model,
as in the study, else the backend's name. Rerunning the same command resumes. See
docs/distributions_collection.md.
"""

from __future__ import annotations

from commands.collect import main as collect_main


def main(argv: list[str] | None = None) -> int:
    return collect_main("mpi", __doc__.splitlines()[0], argv)

