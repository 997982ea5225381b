"""Shared fixtures: no network but loopback, and the study data mirror (tests/data_mirror.py)
fetched into a temporary Data/."""

from __future__ import annotations

import atexit
import ipaddress
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sources.fetch import fetch_all
from sources.manifest import MIRROR_ENV, load_manifest
from tests.data_mirror import find_mirror

# set before any test module imports huggingface_hub or transformers, which read them once;
# subprocesses the tests start inherit them
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# the mirror as an absolute path, for tests that change folder and the processes they start
os.environ[MIRROR_ENV] = str(find_mirror())
# the embedded model's conversion (backends.gguf_cache.converted_gguf_dir): made once per
# session in a folder of its own, so no test depends on what an earlier run left in ~/.cache
_MODEL_CACHE = tempfile.mkdtemp(prefix="contested-model-cache-")
os.environ["CONTESTED_MODEL_CACHE"] = _MODEL_CACHE
atexit.register(shutil.rmtree, _MODEL_CACHE, ignore_errors=True)

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class NetworkBlocked(RuntimeError):
    """A test tried to reach a host other than this machine."""


def _ip(host: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """`host` as an IP address (brackets and an IPv6 zone dropped); None for a name."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        return ipaddress.ip_address(str(host).strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _is_loopback(host: Any) -> bool:
    if not isinstance(host, str | bytes):
        return False
    name = (host.decode("ascii", "replace") if isinstance(host, bytes) else host).lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    ip = _ip(name)
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip is not None and (ip.is_loopback or bool(mapped and mapped.is_loopback))


#: every connection the guard refused this session, as "what -> where"
_BLOCKED: list[str] = []


def _refuse(what: str, where: Any) -> NetworkBlocked:
    _BLOCKED.append(f"{what} {where!r}")
    return NetworkBlocked(
        f"tests may not reach the network: {what} {where!r} blocked (only 127.0.0.1, ::1, "
        "localhost and Unix sockets are allowed; use the fake servers in tests/fakes/)"
    )


@pytest.fixture(scope="session", autouse=True)
def blocked_connections() -> Iterator[list[str]]:
    """Make every connection to a non-loopback address (and every DNS lookup of a name other
    than localhost) raise NetworkBlocked, for the whole session. socket.create_connection
    goes through both patched calls. Yields the list of attempts
    refused, which `_no_test_reached_the_network` checks after each test."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) and address else address
            if not _is_loopback(host):
                raise _refuse("connect to", address)

    def connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        # a numeric address needs no lookup (connect checks it); a name other than
        # localhost would be a DNS query leaving the machine
        if host not in (None, "", b"") and not _is_loopback(host) and _ip(host) is None:
            raise _refuse("DNS lookup of", host)
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket.socket, "connect_ex", connect_ex)
        mp.setattr(socket, "getaddrinfo", getaddrinfo)
        yield _BLOCKED


@pytest.fixture(autouse=True)
def _no_test_reached_the_network(blocked_connections: list[str]) -> Iterator[None]:
    """Fail the test even when the code under test swallowed NetworkBlocked (an SDK turns
    it into a connection error and may retry)."""
    before = len(blocked_connections)
    yield
    tried = blocked_connections[before:]
    if tried:
        del blocked_connections[before:]
        pytest.fail("the test tried to reach the network: " + "; ".join(tried))


def data_mirror() -> Path:
    mirror = find_mirror()
    if not (mirror / "neutrality").is_dir():
        pytest.fail(f"study data mirror not found at {mirror}; set {MIRROR_ENV}")
    return mirror


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    return data_mirror()


@pytest.fixture(scope="session")
def fetched_data(tmp_path_factory, mirror_dir) -> Path:
    """A data folder filled from the mirror through the real fetch path (checksums verified)."""
    data_dir = tmp_path_factory.mktemp("Data")
    fetch_all(load_manifest(), data_dir, mirror_dir)
    return data_dir
