"""The example configs' tools: they load, and they do their job against the loopback service."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from device.config.loader import load_settings
from device.tools.base import ToolCall, ToolContext
from device.tools.settings import HttpTool
from device.tools.toolbox import Toolbox
from tools.bench_tools import run as bench_run
from tools.job_status_service import JobService

EXAMPLES = Path(__file__).resolve().parents[2] / "firmware_config/examples"


@pytest.mark.parametrize(
    ("name", "tools"),
    [
        ("clinic", ["faq", "escalate", "end_session"]),
        ("shop", ["faq", "stock_lookup", "end_session"]),
        ("field-tech", ["job_status", "add_job_note", "close_job", "end_session"]),
    ],
)
def test_example_tools_load(name: str, tools: list[str]) -> None:
    settings = load_settings(EXAMPLES / f"{name}.yaml")
    box = Toolbox.from_settings(settings.tools, credentials=None, audit_path=None)
    assert [d.name for d in box.declarations()] == tools


@pytest.mark.parametrize(
    ("question", "start"),
    [
        ("Are you open on Saturday?", "We are open Monday to Friday"),
        ("Where is the pharmacy?", "The pharmacy is on the ground floor"),
        ("Can I park my car here?", "Free parking"),
        ("What if I'm late for my appointment?", "Please cancel at least 24 hours"),
    ],
)
async def test_clinic_faq_answers(question: str, start: str) -> None:
    settings = load_settings(EXAMPLES / "clinic.yaml")
    box = Toolbox.from_settings(settings.tools, credentials=None, audit_path=None)
    try:
        result = await box.run(
            ToolCall("c1", "faq", json.dumps({"question": question})), ToolContext("conv", ())
        )
    finally:
        await box.close()
    assert result.output.startswith(start)


async def test_field_tech_against_the_job_service(tmp_path: Path) -> None:
    """The field-tech tools, pointed at the loopback service: bearer token, read-back, yes."""
    settings = load_settings(EXAMPLES / "field-tech.yaml")
    with JobService(token="field-token-123") as service:
        items = tuple(
            dataclasses.replace(
                item, url=item.url.replace("https://jobs.fieldco.example/api", service.url)
            )
            if isinstance(item, HttpTool)
            else item
            for item in settings.tools.items
        )
        tools = dataclasses.replace(settings.tools, allow_hosts=("127.0.0.1",), items=items)
        box = Toolbox.from_settings(
            tools,
            credentials={"job-api-token": "field-token-123"}.__getitem__,
            audit_path=tmp_path / "audit.jsonl",
        )
        try:
            status = await box.run(
                ToolCall("c1", "job_status", '{"job_id": "5188"}'), ToolContext("conv", ())
            )
            assert json.loads(status.output) == {
                "status": "waiting for parts",
                "eta": "tomorrow 09:00",
                "technician.name": "Ana Lima",
                "site": "3 Mill Lane",
            }
            note = '{"job_id": "5188", "note": "Fitted a new valve"}'
            said: tuple[tuple[str, str], ...] = (
                ("user", "Add a note to job 5188: fitted a new valve."),
            )
            ask = await box.run(ToolCall("c2", "add_job_note", note), ToolContext("conv", said))
            assert "Read the details back" in ask.output
            said += (
                (
                    "assistant",
                    "Job five one eight eight, note: fitted a new valve. Shall I add it?",
                ),
                ("user", "Yes please."),
            )
            added = await box.run(ToolCall("c3", "add_job_note", note), ToolContext("conv", said))
            assert added.ok, added.output
            assert service.jobs["5188"]["notes"] == ["Fitted a new valve"]
            assert [s.authorized for s in service.seen] == [True, True]
        finally:
            await box.close()
    assert "field-token-123" not in (tmp_path / "audit.jsonl").read_text()


@pytest.mark.slow
def test_the_tool_overhead_bench_runs_every_call_through_the_real_service() -> None:
    """The figure itself is a benchmark (tools/bench.py), not a timed test."""
    result = bench_run(quick=True)["tool_overhead_ms"]
    assert result["calls"] == 200
    assert 0 < result["p50"] <= result["p95"]
