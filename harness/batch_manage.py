"""--status and --cancel: our batches for one output, as the provider reports them now."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from backends.registry import BackendSpec
from harness.batch import batch_adapter
from harness.batch_state import BatchOptions, BatchState, state_path
from harness.send import Route


@dataclass
class BatchReport:
    """What --status and --cancel print: one line per batch of ours."""

    lines: list[str] = field(default_factory=list)

    def format(self) -> str:
        return "\n".join(self.lines)


def _manage(spec: BackendSpec, out: Path, cancel: bool, model: str | None,
            base_url: str | None, timeout_s: float) -> BatchReport:
    state = BatchState(state_path(out))
    report = BatchReport()
    if not state.batches:
        report.lines.append(f"no batches recorded for {out} (in {state.path})")
        return report
    route = Route(spec, model=model, base_url=base_url, timeout_s=timeout_s,
                  batch=BatchOptions())
    route.check()
    backend = route.open_backend()
    adapter = batch_adapter(spec, backend)

    async def main() -> None:
        try:
            for record in state.batches:
                info = await adapter.retrieve(record["id"])
                verb = ""
                if cancel and not info.ended:
                    info = await adapter.cancel(record["id"])
                    verb = "cancel requested; "
                record["status"] = info.status
                done = "results written" if record.get("collected") else "results not yet read"
                report.lines.append(
                    f"{record['id']}  {info.status}  {verb}{len(record['custom_ids'])} requests "
                    f"(round {record.get('round', 0)}); {info.format_counts()}; {done}")
        finally:
            await backend.aclose()

    asyncio.run(main())
    state.save()
    if cancel:
        report.lines.append("rerun the same command (without --cancel) to read what the "
                            "cancelled batches answered and redo the rest")
    return report


def batch_status(spec: BackendSpec, out: Path, *, model: str | None = None,
                 base_url: str | None = None, timeout_s: float = 120.0) -> BatchReport:
    """Each of our batches' state and counts, as the provider reports them now."""
    return _manage(spec, out, False, model, base_url, timeout_s)


def batch_cancel(spec: BackendSpec, out: Path, *, model: str | None = None,
                 base_url: str | None = None, timeout_s: float = 120.0) -> BatchReport:
    """Cancel our batches still running (only those recorded for `out`)."""
    return _manage(spec, out, True, model, base_url, timeout_s)
