"""Build the neutrality test set (10,314 prompts with the shipped data) from the raw sources.

Its flags and work are in commands/create_test_dataset.py (`--help` lists them).
"""

from commands.create_test_dataset import main
from harness.cli import run_main

if __name__ == "__main__":
    run_main(main)
