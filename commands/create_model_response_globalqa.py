"""Collect a model's answer distributions over GlobalOpinionQA items (one JSON line per item).

    python scripts/create_model_response_globalqa.py --data_dir Data/pluralism/global_opinions.csv
    python scripts/create_model_response_globalqa.py --countries "United States,Japan,Germany"
    python scripts/create_model_response_globalqa.py --backend davinci-002 --dry-run
    python scripts/create_model_response_globalqa.py --backend llama-2-13b-chat --limit 100

Without --data_dir the file is read from Data/pluralism/global_opinions.csv, or downloaded
from the Hugging Face hub (Anthropic/llm_global_opinions). Items are kept when every country
in --countries answered them; each row carries those countries' distributions in `human`.
Rows go to results/distributions/globalqa/<label>.jsonl (or --save_dir): the label is --model,
as in the study, else the backend's name. Rerunning the same command resumes. See
docs/distributions_collection.md.
"""

from __future__ import annotations

from commands.collect import main as collect_main


def main(argv: list[str] | None = None) -> int:
    return collect_main("globalqa", __doc__.splitlines()[0], argv)

