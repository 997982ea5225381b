"""Compare models' answer distributions with human ones (GlobalOpinionQA, MPI) and report.

Its flags and work are in commands/analyze_distributions.py (`--help` lists them).
"""

from commands.analyze_distributions import main
from harness.cli import run_main

if __name__ == "__main__":
    run_main(main)
