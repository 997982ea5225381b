"""Text every output can hold: a provider's answer may carry a lone UTF-16 surrogate
("\\ud800" in its JSON), which Python decodes but no UTF-8 file, SQLite cache or page can
store."""

from __future__ import annotations

from typing import Any

REPLACEMENT = "\ufffd"


def well_formed(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (a paired one joined into its
    character); text without one comes back as it is."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def well_formed_values(value: Any) -> Any:
    """`value` (JSON-like: dicts, lists, strings) with every string, keys included, well
    formed."""
    if isinstance(value, str):
        return well_formed(value)
    if isinstance(value, dict):
        return {well_formed_values(k): well_formed_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [well_formed_values(v) for v in value]
    return value


def text_of_parts(value: Any) -> str | None:
    """A list of content parts ([{"type": "text", "text": ...}], as some OpenAI-compatible
    servers send an answer) as one string; None when `value` is not such a list."""
    if not isinstance(value, list) or not all(isinstance(p, dict) for p in value):
        return None
    texts = [p.get("text") for p in value if p.get("type", "text") == "text"]
    if not all(isinstance(t, str) for t in texts):
        return None
    return "".join(texts)  # type: ignore[arg-type]
