"""Collect model responses to the test set into results/generations/<backend>.jsonl.

Its flags and work are in commands/generate.py (`--help` lists them).
"""

from commands.generate import main
from harness.cli import run_main

if __name__ == "__main__":
    run_main(main)
