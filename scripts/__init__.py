"""The command-line scripts (`python scripts/generate.py`, or `contested generate`).

A package so an installed copy ships them and `contested` can call each script's main().
"""
