"""Turn a results JSONL file into CSV or Parquet for pandas.

Its flags and work are in commands/export.py (`--help` lists them).
"""

from commands.export import main
from harness.cli import run_main

if __name__ == "__main__":
    run_main(main)
