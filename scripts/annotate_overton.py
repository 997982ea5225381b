"""Judge which answer options each open answer presents (Overton coverage).

Its flags and work are in commands/annotate_overton.py (`--help` lists them).
"""

from commands.annotate_overton import main
from harness.cli import run_main

if __name__ == "__main__":
    run_main(main)
