import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from sources.fetch import ChecksumError, fetch_all, fetch_file, sha256_of
from sources.manifest import DataFile, load_manifest

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
    assert {r.status for r in results} == {"copied"}
    for r in results:
        assert sha256_of(tmp_path / r.file.path) == r.file.sha256
    again = fetch_all(load_manifest(), tmp_path, mirror_dir)
    assert {r.status for r in again} == {"present"}


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
