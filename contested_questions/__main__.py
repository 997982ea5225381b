"""`python -m contested_questions ARGS` is the `contested` command."""

from contested_questions.cli import main

main()
