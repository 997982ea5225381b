"""Run a whole study from a config, stage by stage; rerunning resumes where it stopped.

Its flags and work are in commands/run_study.py (`--help` lists them).
"""

from commands.run_study import main
from harness.cli import run_main

if __name__ == "__main__":
    run_main(main)
