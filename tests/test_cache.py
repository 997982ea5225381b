"""The SQLite response cache: what its key covers, and persistence across connections."""

from __future__ import annotations

from harness.cache import ResponseCache, request_key

BASE = dict(provider="openai", base_url=None, model_id="gpt-4o-2024-08-06",
            params={"temperature": 0.0, "max_tokens": 64},
            messages=[{"role": "user", "content": "Is tax theft?"}], sample=0)


def test_key_changes_with_every_part_of_the_request():
    k = request_key(**BASE)
    assert request_key(**dict(BASE)) == k
    variants = [
        {"provider": "openai-compatible"},
        {"base_url": "http://127.0.0.1:8000/v1"},
        {"model_id": "gpt-4o-2024-11-20"},
        {"params": {"temperature": 0.7, "max_tokens": 64}},
        {"messages": [{"role": "user", "content": "Is tax theft? "}]},
        {"sample": 1},
        {"extra": {"dtype": "bf16"}},
    ]
    keys = {request_key(**{**BASE, **v}) for v in variants}
    assert k not in keys and len(keys) == len(variants)


def test_param_order_does_not_matter():
    a = request_key(**{**BASE, "params": {"temperature": 0.0, "max_tokens": 64}})
    b = request_key(**{**BASE, "params": {"max_tokens": 64, "temperature": 0.0}})
    assert a == b


def test_entries_persist_and_are_visible_to_a_second_connection(tmp_path):
    path = tmp_path / "sub" / "c.sqlite"
    first = ResponseCache(path)
    first.put("k1", {"text": "hello"})
    # written at once: another connection sees it while the first is still open
    with ResponseCache(path) as second:
        assert second.get("k1") == {"text": "hello"} and second.get("k2") is None
    first.close()
    with ResponseCache(path) as again:
        assert len(again) == 1
