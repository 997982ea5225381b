"""Agreement of judges' labels: within one judge's K evals, between two judges, or with humans.

Its flags and work are in commands/agreement.py (`--help` lists them).
"""

from commands.agreement import main
from harness.cli import run_main

if __name__ == "__main__":
    run_main(main)
