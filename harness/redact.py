"""Keys never written: every configured API key is cut out of what a run writes or prints.

Providers sometimes quote the key they were sent (in a 500's body, a 400's message, a proxy's
HTML page), and that text travels into rows, log lines and reports. Rather than clean each
message where it is raised, the values of every key variable are replaced at the few places
text leaves the process: the results writer, the response cache, the log record factory, the
notes above the progress bar and the one-line errors of `harness.cli.run_main`.
"""

from __future__ import annotations

import logging
import os

#: every environment variable a key is read from, by any adapter (each adapter class names
#: its own in `key_envs`; a test keeps this list their union, without analysis, which writes
#: through harness.results, importing backends)
KEY_ENVS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
            "OPENAI_COMPATIBLE_API_KEY", "HF_TOKEN")
PLACEHOLDER = "<redacted key>"
#: a shorter value is a placeholder such as EMPTY, and cutting it would mangle ordinary words
MIN_KEY_CHARS = 8


def configured_keys() -> list[str]:
    """The keys set now, longest first (so a key containing another is cut whole)."""
    values = {os.environ.get(name, "").strip() for name in KEY_ENVS}
    return sorted((v for v in values if len(v) >= MIN_KEY_CHARS), key=len, reverse=True)


def redact(text: str) -> str:
    """`text` with the value of every configured key replaced by PLACEHOLDER."""
    for key in configured_keys():
        if key in text:
            text = text.replace(key, PLACEHOLDER)
    return text


_installed = False


def install_log_redaction() -> None:
    """Make every log record's message redacted, whatever logger or handler it goes to.

    A record factory (rather than a filter on some handler) also covers handlers added later
    and loggers that do not propagate.
    """
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def redacted_record(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return record

    logging.setLogRecordFactory(redacted_record)
