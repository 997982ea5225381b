import dataclasses
import hashlib
import http.server
import json
import threading
from pathlib import Path

import pytest

from core.errors import UserError
from sources.derive import upstream_path
from sources.fetch import ChecksumError, fetch_all, fetch_file, sha256_of
from sources.lock import LOCK_NAME, ChecksumLock
from sources.manifest import MANIFEST_PATH, MIRROR_ENV, DataFile, load_manifest
from tests.script_entry import script_main


def fetch_script(argv: list[str]) -> int:
    return script_main("fetch_data")(argv)

PAYLOAD = b"Text,Source\n" + b"a statement,DEBATUNE\n" * 5000


def data_file(url: str | None, payload: bytes = PAYLOAD, path="neutrality/x.csv") -> DataFile:
    return DataFile(path=path, url=url, sha256=hashlib.sha256(payload).hexdigest(),
                    size=len(payload), required=True, source="test", licence="test")


class Handler(http.server.BaseHTTPRequestHandler):
    payload = PAYLOAD
    cut_after: int | None = None  # bytes sent before the connection drops
    hits = 0

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        body = self.payload if self.cut_after is None else self.payload[: self.cut_after]
        self.wfile.write(body)
        if self.cut_after is not None:
            self.connection.shutdown(2)  # the peer sees a short read

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Handler.cut_after, Handler.hits, Handler.payload = None, 0, PAYLOAD
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/x.csv"
    httpd.shutdown()


def test_mirror_copy_verifies_every_manifest_file(mirror_dir, tmp_path):
    results = fetch_all(load_manifest(), tmp_path, mirror_dir)
    assert {r.status for r in results if r.file.derived} == {"derived"}
    assert {r.status for r in results if not r.file.derived} == {"copied"}
    lock = ChecksumLock(tmp_path)
    for r in results:
        expected = r.file.sha256 or lock.get(r.file.path)
        assert sha256_of(tmp_path / r.file.path) == expected
    again = fetch_all(load_manifest(), tmp_path, mirror_dir)
    assert {r.status for r in again} == {"present"}


def test_every_manifest_entry_names_its_source():
    raw = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))["files"]
    files = {f["path"]: f for f in raw}
    for entry in raw:
        assert bool(entry["url"]) != bool(entry.get("derived_from")), entry["path"]
        assert entry["source"] and entry["sha256"] or entry["url"], entry["path"]
        for name in (entry.get("derived_from") or {}).get("files", []):
            source = files[upstream_path(entry["derived_from"]["repository"], name)]
            assert entry["derived_from"]["commit"] in source["url"]
            assert source["sha256"]  # pinned commit: known in advance
    on_request = {f["on_request"]: f["path"] for f in raw if f.get("on_request")}
    assert on_request == {"globalqa": "pluralism/global_opinions.csv",
                          "ipip": "pluralism/ipip_neo_120_responses.csv"}


def test_on_request_files_are_fetched_only_when_asked():
    default = {f.path for f in load_manifest()}
    assert "pluralism/global_opinions.csv" not in default
    asked = {f.path for f in load_manifest(extras=["globalqa", "ipip"])}
    assert asked - default == {"pluralism/global_opinions.csv",
                               "pluralism/ipip_neo_120_responses.csv"}
    with pytest.raises(UserError, match="globalqa"):
        load_manifest(extras=["globalqaa"])


def test_first_download_records_its_checksum_and_later_ones_are_checked(server, tmp_path):
    unknown = dataclasses.replace(data_file(server), sha256=None, size=None)
    result = fetch_file(unknown, tmp_path)
    assert result.status == "downloaded" and "recorded" in result.note
    recorded = json.loads((tmp_path / LOCK_NAME).read_text())
    assert recorded == {"neutrality/x.csv": hashlib.sha256(PAYLOAD).hexdigest()}
    assert fetch_file(unknown, tmp_path).status == "present"
    (tmp_path / "neutrality/x.csv").unlink()
    Handler.payload = b"the dataset was re-uploaded"
    with pytest.raises(ChecksumError, match=hashlib.sha256(PAYLOAD).hexdigest()):
        fetch_file(unknown, tmp_path)
    assert not (tmp_path / "neutrality/x.csv").exists()


def test_a_web_page_instead_of_data_is_refused_and_not_recorded(server, tmp_path):
    Handler.payload = b"<!DOCTYPE html><html><body>Virus scan warning</body></html>"
    unknown = dataclasses.replace(data_file(server), sha256=None, size=None)
    with pytest.raises(UserError, match="web page"):
        fetch_file(unknown, tmp_path)
    assert not (tmp_path / "neutrality/x.csv").exists()
    assert not (tmp_path / LOCK_NAME).exists()


def test_fetch_script_says_when_it_records_a_checksum(server, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(MIRROR_ENV)  # downloaded: with a mirror, a file it lacks is refused
    manifest = tmp_path / "manifest.json"
    entry = {"path": "pluralism/global_opinions.csv", "url": server, "sha256": None,
             "size": None, "required": True, "source": "test", "licence": "test",
             "on_request": "globalqa"}
    manifest.write_text(json.dumps({"files": [entry]}))
    assert fetch_script(["--manifest", str(manifest), "--data-dir", str(tmp_path / "D")]) == 0
    assert not (tmp_path / "D" / entry["path"]).exists()  # not asked for
    assert fetch_script(["--manifest", str(manifest), "--data-dir", str(tmp_path / "D"),
                         "--with", "globalqa"]) == 0
    out = capsys.readouterr().out
    assert "downloaded" in out and "recorded in" in out and LOCK_NAME in out


def test_download_writes_a_verified_file(server, tmp_path):
    result = fetch_file(data_file(server), tmp_path)
    assert result.status == "downloaded"
    assert (tmp_path / "neutrality/x.csv").read_bytes() == PAYLOAD
    assert fetch_file(data_file(server), tmp_path).status == "present"
    assert Handler.hits == 1


def test_checksum_mismatch_names_file_and_both_hashes(server, tmp_path):
    wrong = data_file(server, payload=b"something else")
    with pytest.raises(ChecksumError) as err:
        fetch_file(wrong, tmp_path)
    message = str(err.value)
    assert "neutrality/x.csv" in message
    assert wrong.sha256 in message and hashlib.sha256(PAYLOAD).hexdigest() in message
    assert list(tmp_path.rglob("*")) in ([], [tmp_path / "neutrality"])


def test_interrupted_download_leaves_nothing_behind(server, tmp_path, monkeypatch):
    Handler.cut_after = len(PAYLOAD) // 3
    monkeypatch.setattr("sources.fetch._download.retry.sleep", lambda s: None)
    with pytest.raises(Exception) as err:  # noqa: B017 - whichever error a short read raises
        fetch_file(data_file(server), tmp_path)
    assert "IncompleteRead" in repr(err.value) or "download" in str(err.value)
    assert Handler.hits >= 2  # retried
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_mirror_only_file_without_mirror_is_skipped_when_optional(tmp_path):
    optional = DataFile(path="neutrality/t.json", url=None, sha256="0" * 64, size=1,
                        required=False, source="", licence="")
    assert fetch_file(optional, tmp_path).status == "skipped"


def test_corrupt_mirror_copy_is_refused(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "neutrality").mkdir(parents=True)
    (mirror / "neutrality/x.csv").write_bytes(b"tampered")
    with pytest.raises(ChecksumError):
        fetch_file(data_file(None), tmp_path / "Data", mirror)
    assert not Path(tmp_path / "Data/neutrality/x.csv").exists()


def test_a_required_file_missing_from_the_mirror_is_named_and_nothing_is_downloaded(
        server, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with pytest.raises(UserError) as err:
        fetch_all([data_file(server)], tmp_path / "Data", mirror)
    message = str(err.value)
    assert message.startswith(f"neutrality/x.csv is not in the mirror {mirror} "
                              f"(no {mirror / 'neutrality/x.csv'})")
    assert "pass --mirror" not in message and server in message
    assert Handler.hits == 0


def test_a_mirror_path_that_is_a_file_is_named_as_one(tmp_path):
    mirror = tmp_path / "data.zip"
    mirror.write_bytes(b"PK")
    with pytest.raises(UserError, match=r"data\.zip is a file, not a folder"):
        fetch_all([data_file(None)], tmp_path / "Data", mirror)
