"""One adapter call in its own event loop, closing the client after, for adapter tests."""

from __future__ import annotations

import asyncio

from backends.base import Backend, Completion, GenerationParams, Message

MESSAGES: list[Message] = [
    {"role": "system", "content": "Answer in one sentence."},
    {"role": "user", "content": "Is a hot dog a sandwich?"},
]


def ask(backend: Backend, messages: list[Message] | None = None,
        params: GenerationParams | None = None) -> Completion:
    """backend.complete(...) once; exceptions propagate as the runner would see them."""

    async def go() -> Completion:
        try:
            return await backend.complete(messages or MESSAGES, params or GenerationParams())
        finally:
            await backend.aclose()

    return asyncio.run(go())


def raised(backend: Backend, messages: list[Message] | None = None,
           params: GenerationParams | None = None) -> BaseException:
    """The exception one call raises (the test fails if it answers)."""
    try:
        c = ask(backend, messages, params)
    except Exception as exc:  # noqa: BLE001 - the thing under test
        return exc
    raise AssertionError(f"expected an exception, got {c!r}")
