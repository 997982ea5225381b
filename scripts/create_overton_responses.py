"""Ask each GlobalOpinionQA question without its options, for Overton pluralism.

Its flags and work are in commands/create_overton_responses.py (`--help` lists them).
"""

from commands.create_overton_responses import main
from harness.cli import run_main

if __name__ == "__main__":
    run_main(main)
