"""Label each response's neutrality technique with an LLM judge, K evals per response.

Its flags and work are in commands/annotate.py (`--help` lists them).
"""

from commands.annotate import main
from harness.cli import run_main

if __name__ == "__main__":
    run_main(main)
