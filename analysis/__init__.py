"""Analyses of annotated responses and model answer distributions (no torch here)."""
