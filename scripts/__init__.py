"""The command-line scripts (`python scripts/generate.py`): each runs the main() of its
command in the `commands` package, which `contested generate` runs too."""
