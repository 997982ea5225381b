"""Reasoning models' output: the thought apart from the answer.

Generation stores the answer and the thought separately; the judge reads only the answer.
Both need the same split, so it lives here rather than in either.
"""

from __future__ import annotations

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def split_reasoning(text: str) -> tuple[str | None, str]:
    """Split a reasoning model's output into (the <think> part, the answer).

    Chat templates such as DeepSeek-R1's put the opening tag in the prompt, so the output may
    start inside the thought; output cut off before the closing tag is all thought.
    """
    if THINK_CLOSE in text:
        thought, answer = text.split(THINK_CLOSE, 1)
        thought = thought.split(THINK_OPEN, 1)[1] if THINK_OPEN in thought else thought
        return thought.strip(), answer.strip()
    if THINK_OPEN in text:
        before, thought = text.split(THINK_OPEN, 1)
        return thought.strip(), before.strip()
    return None, text.strip()
