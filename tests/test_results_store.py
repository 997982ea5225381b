import json

import pytest

from core.errors import UserError
from harness.results import ResultsStore, key_by, read_jsonl


def test_resume_skips_done_ids_and_cuts_torn_line(tmp_path):
    path = tmp_path / "out.jsonl"
    with ResultsStore(path, key_by("id")) as store:
        store.append({"id": 1, "x": "a"})
        store.append({"id": 2, "x": "b"})
    with path.open("ab") as fh:  # a crash mid-write leaves half a line
        fh.write(b'{"id": 3, "x"')
    with ResultsStore(path, key_by("id")) as store:
        assert store.done() == {(1,), (2,)}
        store.append({"id": 3, "x": "c"})
    ids = [r["id"] for r in read_jsonl(path)]
    assert ids == [1, 2, 3]
    assert path.read_bytes().endswith(b"\n")


def test_no_duplicate_for_a_done_key(tmp_path):
    with ResultsStore(tmp_path / "o.jsonl", key_by("id")) as store:
        store.append({"id": 1})
        with pytest.raises(ValueError):
            store.append({"id": 1})


def test_retried_error_replaces_the_old_row(tmp_path):
    path = tmp_path / "o.jsonl"
    with ResultsStore(path, key_by("id", "sample")) as store:
        store.append({"id": 1, "sample": 0, "error": "timeout"})
        store.append({"id": 2, "sample": 0, "error": None})
        assert store.done(include_errors=False) == {(2, 0)}
        store.append({"id": 1, "sample": 0, "error": None, "response": "ok"})
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted((r["id"], r.get("response")) for r in rows) == [(1, "ok"), (2, None)]


def test_second_writer_is_refused(tmp_path):
    path = tmp_path / "o.jsonl"
    with ResultsStore(path, key_by("id")), pytest.raises(UserError, match="another run"):
        ResultsStore(path, key_by("id")).open()


def test_a_store_refusing_a_bad_line_releases_its_lock_at_once(tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_bytes(b'{"id": 1}\nnot json\n')
    kept = []
    for _ in range(2):  # the first error still referenced (as pytest or a caller keeps it)
        with pytest.raises(UserError, match="line 2 is not JSON") as info:
            ResultsStore(path, key_by("id")).open()
        kept.append(info)
