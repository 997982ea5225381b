"""Prompt templates as data. The JSON files beside this module are the project's own wording."""

from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent
