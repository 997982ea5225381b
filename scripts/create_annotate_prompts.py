"""Write the judge prompts for a generations file: one per (response, eval index).

Its flags and work are in commands/create_annotate_prompts.py (`--help` lists them).
"""

from commands.create_annotate_prompts import main
from harness.cli import run_main

if __name__ == "__main__":
    run_main(main)
