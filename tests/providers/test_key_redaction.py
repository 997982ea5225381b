"""Issue 15.1: a key the server quotes back never reaches a row, a log line or stderr.

The fake provider quotes the request's key in a 500, a 400 and a non-JSON 200; before the
fix only 401/403 messages had the key cut out.
"""

from __future__ import annotations

import logging
from pathlib import Path

from harness.redact import PLACEHOLDER, install_log_redaction
from harness.results import read_jsonl
from tests.providers.test_api_generation_e2e import generate, prompts  # noqa: F401 - fixture

OTHER_KEYS = {"HF_TOKEN": "hf_test_SECRET_0004", "GOOGLE_API_KEY": "google-test-SECRET-0005",
              "OPENAI_COMPATIBLE_API_KEY": "compat-test-SECRET-0006"}


def test_keys_quoted_in_any_status_are_not_written(fake, prompts, tmp_path, api_keys,  # noqa: F811
                                                   monkeypatch, capsys) -> None:
    for name, value in OTHER_KEYS.items():
        monkeypatch.setenv(name, value)
    key = api_keys["OPENAI_API_KEY"]
    fake.state.push("status", status=500, body=f'{{"error": {{"message": "internal error '
                    f'while serving key {key}"}}}}')
    fake.state.push("bad_request", message=f"bad request for key {key} and "
                    f"{OTHER_KEYS['HF_TOKEN']}")
    fake.state.push("status", status=200, body=f"<html>proxy error, key {key} "
                    f"{OTHER_KEYS['GOOGLE_API_KEY']} {OTHER_KEYS['OPENAI_COMPATIBLE_API_KEY']}")
    out = tmp_path / "gen.jsonl"
    generate(fake, prompts, out, "--no-cache", "--concurrency", "1", "--max-attempts", "1")
    text = out.read_text()
    secrets = [*api_keys.values(), *OTHER_KEYS.values()]
    assert not [s for s in secrets if s in text]
    rows = {r["id"]: r for r in read_jsonl(out)}
    # the messages are kept, with the key replaced: what failed is still readable
    assert PLACEHOLDER in rows[0]["error"] and "internal error" in rows[0]["error"]
    assert PLACEHOLDER in rows[1]["provider_message"]
    assert PLACEHOLDER in rows[2]["error"]
    captured = capsys.readouterr()
    assert not [s for s in secrets if s in captured.out + captured.err]


def test_log_lines_are_redacted(api_keys, caplog) -> None:
    install_log_redaction()
    with caplog.at_level(logging.WARNING):
        logging.getLogger("some.sdk").warning("retrying with key %s", api_keys["GEMINI_API_KEY"])
    assert api_keys["GEMINI_API_KEY"] not in caplog.text
    assert PLACEHOLDER in caplog.text


def test_cache_never_holds_a_key(api_keys, tmp_path: Path) -> None:
    from harness.cache import ResponseCache

    with ResponseCache(tmp_path / "c.sqlite") as cache:
        cache.put("k", {"text": f"the key is {api_keys['ANTHROPIC_API_KEY']}"})
        assert cache.get("k") == {"text": f"the key is {PLACEHOLDER}"}
