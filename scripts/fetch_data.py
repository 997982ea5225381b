"""Fetch the studies' data listed in Data/manifest.json and derive their prompt templates.

Its flags and work are in commands/fetch_data.py (`--help` lists them).
"""

from commands.fetch_data import main
from harness.cli import run_main

if __name__ == "__main__":
    run_main(main)
