"""Pacing for one run: rate limiters that adopt the limits a provider announces, and a cap
on requests in flight that grows with them.

The registry's limits are a tier-1 account's; most accounts get far more. OpenAI and
Anthropic state the account's real limits on every answer, so after the first answer the
limiters take those (unless the user gave --rpm/--tpm), and follow them down if the
provider lowers them mid-run. Providers that send no limits (Gemini, most
OpenAI-compatible servers) keep the registry's values. How many requests may be in flight
follows Little's law: the rate the limits allow times the latency observed, with headroom,
up to --concurrency.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from aiolimiter import AsyncLimiter

from backends.base import RateLimitState
from core.clock import utc_now

#: longest proactive pause, so a bad header cannot stall a run for hours
MAX_PAUSE_S = 120.0
#: in-flight requests before a latency is known, and the least the cap shrinks to
START_IN_FLIGHT = 8
#: default --concurrency for hosted APIs: a ceiling, not a target (the SDKs pool 1,000
#: connections); what is in flight follows the limits and the latency
DEFAULT_MAX_IN_FLIGHT = 1000
#: Little's law headroom: in flight = HEADROOM x rate x latency + SPARE
HEADROOM = 1.5
SPARE = 2
#: weight of the newest latency in the running average
LATENCY_WEIGHT = 0.2


def make_rpm_limiter(rpm: float) -> AsyncLimiter:
    """Requests spaced evenly, with a burst of at most a tenth of a second's worth.

    A full-minute bucket would allow rpm requests at once and then trip a provider's
    sliding window; this keeps every 60 s window at or under `rpm`.
    """
    burst = max(1.0, float(int(rpm / 600)))
    # 1 % under the limit: our clock and the provider's differ by each request's travel time,
    # which can otherwise put one request too many into the provider's window
    rate = max(rpm * 0.99 - burst, rpm * 0.5)
    return AsyncLimiter(burst, 60.0 * burst / rate)


def make_tpm_limiter(tpm: float) -> AsyncLimiter:
    """Tokens per minute, bursting at most a sixth of the minute's budget."""
    return AsyncLimiter(max(1.0, tpm / 6), 10.0)


@dataclass(frozen=True)
class Limits:
    """Per-minute limits a run keeps to; None = no such limit."""

    rpm: float | None = None
    tpm: float | None = None  # input + output tokens (OpenAI; --tpm)
    input_tpm: float | None = None  # Anthropic counts input and output tokens apart
    output_tpm: float | None = None

    def per_second(self, input_tokens: float, output_tokens: float) -> float | None:
        """Requests a second the tightest limit allows for requests of this size."""
        rates = []
        if self.rpm:
            rates.append(self.rpm / 60)
        if self.tpm and input_tokens + output_tokens > 0:
            rates.append(self.tpm / 60 / (input_tokens + output_tokens))
        if self.input_tpm and input_tokens > 0:
            rates.append(self.input_tpm / 60 / input_tokens)
        if self.output_tpm and output_tokens > 0:
            rates.append(self.output_tpm / 60 / output_tokens)
        return min(rates) if rates else None

    def describe(self) -> str:
        parts = [f"{v:,.0f} {name} a minute" for v, name in (
            (self.rpm, "requests"), (self.tpm, "tokens"), (self.input_tpm, "input tokens"),
            (self.output_tpm, "output tokens")) if v]
        return ", ".join(parts) or "no limits"

    def to_dict(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def announced_limits(state: RateLimitState | None) -> Limits | None:
    """The per-minute limits a provider's headers state, or None when they state none.

    Where input and output tokens are limited apart (Anthropic), those two are kept and a
    combined token limit is left out: each reservation goes against its own limit.
    """
    if state is None:
        return None
    split = state.limit_input_tokens is not None or state.limit_output_tokens is not None
    limits = Limits(
        rpm=_positive(state.limit_requests),
        tpm=None if split else _positive(state.limit_tokens),
        input_tpm=_positive(state.limit_input_tokens),
        output_tpm=_positive(state.limit_output_tokens),
    )
    return None if limits == Limits() else limits


def _positive(value: int | None) -> float | None:
    return float(value) if value is not None and value > 0 else None


class InFlightGate:
    """A semaphore whose size can change while tasks wait on it."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def __aenter__(self) -> None:
        while self.active >= self.limit:
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut in self._waiters:
                    self._waiters.remove(fut)
                elif fut.done() and not fut.cancelled():
                    self._wake()  # woken and gone: pass the turn on
                raise
        self.active += 1

    async def __aexit__(self, *exc: object) -> None:
        self.active -= 1
        self._wake()

    def resize(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._wake()

    def _wake(self) -> None:
        free = self.limit - self.active
        while free > 0 and self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                free -= 1


@dataclass(frozen=True)
class PacingPlan:
    """What a run starts from: the limits given (flags or registry) and which may be learned."""

    limits: Limits
    learn_rpm: bool = True
    learn_tpm: bool = True
    max_in_flight: int = START_IN_FLIGHT


class Pacer:
    """The rate limiters and the in-flight cap of one run, adapting to what answers say."""

    def __init__(self, plan: PacingPlan, note: Callable[[str], None] | None = None) -> None:
        self.plan = plan
        self.limits = plan.limits
        self.note = note or (lambda line: None)
        self._limiters: dict[str, AsyncLimiter] = {}
        self._built_for: dict[str, float] = {}
        self._changed = asyncio.Event()
        self._build(self.limits)
        self.latency_s: float | None = None
        self.request_size = (0.0, 0.0)  # mean (input, output) tokens of the requests to send
        self.left = (0, 0, 0)  # requests, input tokens, output tokens still to send
        #: the limits in force over the run, oldest first, each with where it came from
        self.history: list[dict[str, Any]] = [
            {"at": utc_now(), "source": "given", **self.limits.to_dict()}]
        self.gate = InFlightGate(self.in_flight_limit())

    # ---- the plan ----------------------------------------------------------------------
    def expect(self, requests: int, input_tokens: int, output_tokens: int) -> None:
        """The work still to send, for the time estimate and the request size."""
        self.left = (requests, input_tokens, output_tokens)
        if requests:
            self.request_size = (input_tokens / requests, output_tokens / requests)
        self.gate.resize(self.in_flight_limit())

    def minutes_left(self) -> float | None:
        """Minutes the work left takes at the current limits (None: no limit binds)."""
        n, tin, tout = self.left
        spans = []
        lim = self.limits
        if lim.rpm:
            spans.append(n / lim.rpm)
        if lim.tpm:
            spans.append((tin + tout) / lim.tpm)
        if lim.input_tpm:
            spans.append(tin / lim.input_tpm)
        if lim.output_tpm:
            spans.append(tout / lim.output_tpm)
        return max(spans) if spans else None

    def in_flight_limit(self) -> int:
        """Little's law: the rate the limits allow times the latency seen, with headroom.

        No limit or no latency yet: the cap itself, or START_IN_FLIGHT under a limit.
        """
        cap = max(1, self.plan.max_in_flight)
        rate = self.limits.per_second(*self.request_size)
        if rate is None:
            return cap
        floor = min(cap, START_IN_FLIGHT)
        if self.latency_s is None:
            return floor
        need = math.ceil(HEADROOM * rate * self.latency_s) + SPARE
        return max(floor, min(cap, need))

    # ---- before a request ----------------------------------------------------------------
    async def acquire(self, tokens: int, output_tokens: int = 0) -> None:
        """Wait until every limiter has room for one request of `tokens` (input + output)."""
        await self._take("rpm", 1)
        await self._take("tpm", tokens)
        await self._take("input_tpm", max(0, tokens - output_tokens))
        await self._take("output_tpm", output_tokens)
        n, tin, tout = self.left
        self.left = (max(0, n - 1), max(0, tin - (tokens - output_tokens)),
                     max(0, tout - output_tokens))

    async def _take(self, name: str, amount: float) -> None:
        """Acquire `amount` from one limiter; when new limits replace it while we wait (the
        registry's slow pace giving way to the account's), wait on the new one instead."""
        while (limiter := self._limiters.get(name)) is not None and amount > 0:
            share = min(float(amount), limiter.max_rate)
            if limiter.has_capacity(share):
                await limiter.acquire(share)
                return
            changed = self._changed
            acquire = asyncio.ensure_future(limiter.acquire(share))
            replaced = asyncio.ensure_future(changed.wait())
            try:
                await asyncio.wait({acquire, replaced}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                replaced.cancel()
                if not acquire.done():
                    acquire.cancel()
            if acquire.done() and not acquire.cancelled() and not changed.is_set():
                acquire.result()
                return

    # ---- after an answer ------------------------------------------------------------------
    def observe(self, state: RateLimitState | None, latency_s: float | None,
                tokens: int) -> float:
        """Take in an answer: its latency, the limits its headers announce, the budget left.

        Returns seconds to hold every request back (0: none): when the provider says its
        budget is nearly spent, we wait for its reset rather than run into a 429.
        """
        if latency_s is not None:
            self.latency_s = latency_s if self.latency_s is None else (
                (1 - LATENCY_WEIGHT) * self.latency_s + LATENCY_WEIGHT * latency_s)
        announced = announced_limits(state)
        if announced is not None:
            self.adopt(announced)
        self.gate.resize(self.in_flight_limit())
        if state is None:
            return 0.0
        n = self.gate.limit
        wait = 0.0
        if state.remaining_requests is not None and state.remaining_requests <= n:
            wait = max(wait, state.reset_requests_s or 1.0)
        if state.remaining_tokens is not None and state.remaining_tokens <= n * tokens:
            wait = max(wait, state.reset_tokens_s or 1.0)
        return min(wait, MAX_PAUSE_S)

    def adopt(self, announced: Limits) -> None:
        """Take the announced limits the user did not fix with --rpm/--tpm."""
        new = self.limits
        if self.plan.learn_rpm and announced.rpm:
            new = replace(new, rpm=announced.rpm)
        if self.plan.learn_tpm and (announced.tpm or announced.input_tpm
                                    or announced.output_tpm):
            new = replace(new, tpm=announced.tpm, input_tpm=announced.input_tpm,
                          output_tpm=announced.output_tpm)
        if new == self.limits:
            return
        first = len(self.history) == 1
        self.limits = new
        self._build(new)
        self._changed.set()  # requests waiting on the old limiters move to the new ones
        self._changed = asyncio.Event()
        self.history.append({"at": utc_now(), "source": "provider headers", **new.to_dict()})
        minutes = self.minutes_left()
        eta = "" if minutes is None else (
            f"; the {self.left[0]:,} requests left take about {_duration(minutes)} at these "
            "limits")
        what = "the provider announces" if first else "the provider changed its limits to"
        self.note(f"rate limits: {what} {new.describe()} (registry or flags: "
                  f"{self.plan.limits.describe()}){eta}")

    def _build(self, limits: Limits) -> None:
        """A new limiter for each limit that changed; the others keep their state."""
        makers = {"rpm": make_rpm_limiter, "tpm": make_tpm_limiter,
                  "input_tpm": make_tpm_limiter, "output_tpm": make_tpm_limiter}
        for name, make in makers.items():
            value = getattr(limits, name)
            if value is None:
                self._limiters.pop(name, None)
                self._built_for.pop(name, None)
            elif self._built_for.get(name) != value:
                self._limiters[name] = make(value)
                self._built_for[name] = value

    def record(self) -> dict[str, Any]:
        """The limits for the run's metadata: where they started, what they became."""
        return {"given": self.plan.limits.to_dict(), "final": self.limits.to_dict(),
                "learned": len(self.history) > 1, "history": self.history,
                "max_in_flight": self.plan.max_in_flight, "in_flight_limit": self.gate.limit}


def _duration(minutes: float) -> str:
    if minutes < 1:
        return f"{minutes * 60:.0f} s"
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"

