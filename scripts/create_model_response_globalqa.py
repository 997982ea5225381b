"""Collect a model's answer distributions over GlobalOpinionQA items (one JSON line per item).

Its flags and work are in commands/create_model_response_globalqa.py (`--help` lists them).
"""

from commands.create_model_response_globalqa import main
from harness.cli import run_main

if __name__ == "__main__":
    run_main(main)
