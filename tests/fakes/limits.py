"""The rate-limit headers the fake provider announces, in OpenAI's and Anthropic's formats.

The fake enforces a requests-per-minute limit over a sliding window; with `announce` on,
every answer (429s too) states that limit, what is left of it, and when a slot frees up.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def go_duration(seconds: float) -> str:
    """Seconds as OpenAI writes them ("20ms", "1.5s", "1m30s")."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.3g}s" if minutes else f"{rest:.3g}s"


def limit_headers(protocol: str, limit: int, remaining: int, reset_s: float,
                  tpm: int | None = None) -> dict[str, str]:
    """The request-limit headers of one answer; {} for a protocol that sends none (Gemini).

    `tpm`, where given, is announced as OpenAI's token limit (not enforced: left in full).
    """
    if protocol == "openai":
        tokens = {} if tpm is None else {"x-ratelimit-limit-tokens": str(tpm),
                                         "x-ratelimit-remaining-tokens": str(tpm),
                                         "x-ratelimit-reset-tokens": "0s"}
        return {"x-ratelimit-limit-requests": str(limit),
                "x-ratelimit-remaining-requests": str(remaining),
                "x-ratelimit-reset-requests": go_duration(reset_s), **tokens}
    if protocol == "anthropic":
        at = datetime.now(timezone.utc) + timedelta(seconds=reset_s)
        return {"anthropic-ratelimit-requests-limit": str(limit),
                "anthropic-ratelimit-requests-remaining": str(remaining),
                "anthropic-ratelimit-requests-reset": at.isoformat().replace("+00:00", "Z")}
    return {}
