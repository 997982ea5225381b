"""Fixtures for the hosted-provider adapters: a fake provider on 127.0.0.1 and test keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backends.provider_http import HTTP_TRANSPORT_ENV, HTTP_TRANSPORTS
from tests.fakes.server import FakeProvider, FakeServer

#: keys the adapters read in these tests; the tests check they never leak into outputs
TEST_KEYS = {
    "OPENAI_API_KEY": "openai-test-SECRET-0001",
    "ANTHROPIC_API_KEY": "anthropic-test-SECRET-0002",
    "GEMINI_API_KEY": "gemini-test-SECRET-0003",
}
#: set in a user's shell, these would redirect or change the clients under test
_CLEARED = ("GOOGLE_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL",
            "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_ADMIN_KEY", "ANTHROPIC_AUTH_TOKEN",
            "GOOGLE_GENAI_USE_VERTEXAI", "OPENAI_CUSTOM_HEADERS", "ANTHROPIC_CUSTOM_HEADERS",
            "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture
def api_keys(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name, value in TEST_KEYS.items():
        monkeypatch.setenv(name, value)
    return dict(TEST_KEYS)


@pytest.fixture
def fake(api_keys: dict[str, str]) -> Iterator[FakeServer]:
    """A started fake provider (all three protocols); stopped after the test."""
    server = FakeServer(FakeProvider()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def http_transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The SDKs' HTTP transport: aiohttp, the default, unless parametrized below."""
    name = getattr(request, "param", "aiohttp")
    monkeypatch.setenv(HTTP_TRANSPORT_ENV, name)
    return name


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # each adapter's own tests (timeouts, error bodies, headers) run over both transports:
    # the two raise different exceptions for the same failure
    if (metafunc.module.__name__.endswith("_backend")
            and "http_transport" in metafunc.fixturenames):
        metafunc.parametrize("http_transport", HTTP_TRANSPORTS, indirect=True)
