"""Turn judge annotations into the neutrality study's tables, figures and a Markdown report.

Its flags and work are in commands/analyze_neutrality.py (`--help` lists them).
"""

from commands.analyze_neutrality import main
from harness.cli import run_main

if __name__ == "__main__":
    run_main(main)
