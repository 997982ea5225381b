"""A coverage judge's agreement with our labelled response-option pairs.

Its flags and work are in commands/overton_agreement.py (`--help` lists them).
"""

from commands.overton_agreement import main
from harness.cli import run_main

if __name__ == "__main__":
    run_main(main)
