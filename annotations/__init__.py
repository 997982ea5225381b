"""LLM-judge annotation of responses: judge prompts, parsing, majority votes, agreement."""

from annotations.parse import CATEGORIES, Judgement, parse_judgement

__all__ = ["CATEGORIES", "Judgement", "parse_judgement"]
