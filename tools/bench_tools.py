"""Bench: the device's own cost of a tool call (tool_overhead_ms, target p95 <= 10 ms).

Measured per call, from the moment the ``response.function_call_arguments.done`` text is in
hand to the moment the ``function_call_output`` text is ready to send: the GA codec parses
the event, the tool box validates, audits and runs an HTTP tool (bearer credential,
field selection) against the loopback job-status service, and the codec encodes the
output. The service's own handling time (its ``Server-Timing`` header, kept in the audit
record) is subtracted, so what remains is the device's work plus the loopback round trip.

    python -c "import tools.bench_tools as b; print(b.run(quick=True))"
"""

from __future__ import annotations

import asyncio
import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from device.realtime.commands import SendToolOutput
from device.realtime.events import FunctionCallDone
from device.realtime.ga import GaCodec
from device.tools.base import ToolCall as DeviceToolCall
from device.tools.base import ToolContext
from device.tools.settings import Header, HttpTool, ToolsSettings
from device.tools.toolbox import Toolbox
from tools.job_status_service import JobService

TRANSCRIPT = (
    ("user", "What is the status of job four one seven two?"),
    ("assistant", "Let me check job four one seven two."),
)


def _event(n: int) -> str:
    return json.dumps(
        {
            "type": "response.function_call_arguments.done",
            "event_id": f"event_{n}",
            "response_id": "resp_1",
            "item_id": f"item_{n}",
            "output_index": 0,
            "call_id": f"call_{n}",
            "name": "job_status",
            "arguments": '{"job_id": "4172"}',
        }
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def _measure(calls: int, warmup: int, folder: Path) -> list[float]:
    token = secrets.token_hex(16)
    with JobService(token=token) as service:
        settings = ToolsSettings(
            allow_hosts=("127.0.0.1",),
            max_calls_per_conversation=calls + warmup + 1,
            items=(
                HttpTool(
                    name="job_status",
                    description="Look up a job.",
                    parameters={
                        "type": "object",
                        "properties": {"job_id": {"type": "string", "pattern": "^[0-9]{4}$"}},
                        "required": ["job_id"],
                    },
                    url=service.url + "/jobs/{job_id}",
                    headers=(Header(name="Authorization", value="Bearer {credential:job-api}"),),
                    select=("status", "eta", "technician.name"),
                ),
            ),
        )
        box = Toolbox.from_settings(
            settings,
            credentials=lambda _name: token,
            audit_path=folder / "audit.jsonl",
            device_name="bench",
        )
        box.start_conversation("bench")
        overheads: list[float] = []
        codec = GaCodec()
        try:
            for n in range(warmup + calls):
                text = _event(n)
                start = time.perf_counter()
                event = codec.decode(text)
                assert isinstance(event, FunctionCallDone)
                call = DeviceToolCall(event.call_id, event.name, event.arguments)
                result = await box.run(call, ToolContext("bench", TRANSCRIPT, "bench", ""))
                codec.encode(SendToolOutput(call.call_id, result.output, event_id=f"dev_{n}"))
                total_ms = (time.perf_counter() - start) * 1000.0
                record = box.last_audit or {}
                if not result.ok:
                    raise RuntimeError(f"bench tool call failed: {result.output}")
                if n >= warmup:
                    overheads.append(total_ms - float(record.get("server_ms", 0.0)))
        finally:
            await box.close()
    return overheads


def run(quick: bool) -> dict[str, Any]:
    """{"tool_overhead_ms": {"p50", "p95", "calls"}} over 200 (quick) or 1000 calls."""
    calls = 200 if quick else 1000
    with tempfile.TemporaryDirectory() as folder:
        overheads = asyncio.run(_measure(calls, 20, Path(folder)))
    return {
        "tool_overhead_ms": {
            "p50": round(statistics.median(overheads), 3),
            "p95": round(_percentile(overheads, 95), 3),
            "calls": len(overheads),
        }
    }


if __name__ == "__main__":
    print(json.dumps(run(quick=True)))
