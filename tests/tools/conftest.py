"""Fixtures: the job-status service on loopback, and tool boxes built against it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from device.tools.settings import Header, HttpTool, ToolsSettings
from device.tools.toolbox import Toolbox
from tools.job_status_service import JobService

JOB_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"job_id": {"type": "string", "pattern": "^[0-9]{4}$"}},
    "required": ["job_id"],
    "additionalProperties": False,
}


@pytest.fixture
def token() -> str:
    """A fresh bearer token per test, so "never in the log" can fail for real."""
    return "tok-" + secrets.token_hex(12)


@pytest.fixture
def service(token: str) -> Iterator[JobService]:
    with JobService(token=token) as running:
        yield running


def job_status(service: JobService, **changes: Any) -> HttpTool:
    fields: dict[str, Any] = {
        "name": "job_status",
        "description": "Look up a job by its four-digit number.",
        "parameters": JOB_PARAMETERS,
        "url": service.url + "/jobs/{job_id}",
        "headers": (Header(name="Authorization", value="Bearer {credential:job-api-token}"),),
        "select": ("status", "eta", "technician.name"),
        "timeout_s": 2.0,
    }
    fields.update(changes)
    return HttpTool(**fields)


def close_job(service: JobService, **changes: Any) -> HttpTool:
    """A tool that writes: it runs only after the caller's spoken yes."""
    fields: dict[str, Any] = {
        "name": "close_job",
        "description": "Close a job.",
        "method": "POST",
        "url": service.url + "/jobs/{job_id}/close",
        "select": ("status",),
        "confirm": True,
    }
    fields.update(changes)
    return job_status(service, **fields)


MakeBox = Callable[..., Toolbox]


@pytest.fixture
async def make_box(tmp_path: Path, token: str) -> AsyncIterator[MakeBox]:
    """make_box(*items, **tools_settings) -> a Toolbox auditing to tmp_path/audit.jsonl."""
    boxes: list[Toolbox] = []
    store = {"job-api-token": token}

    def credentials(name: str) -> str:
        if name not in store:
            raise LookupError(f"credential '{name}' not found")
        return store[name]

    def make(*items: Any, **changes: Any) -> Toolbox:
        fields: dict[str, Any] = {"allow_hosts": ("127.0.0.1",), "items": items}
        fields.update(changes)
        box = Toolbox.from_settings(
            ToolsSettings(**fields),
            credentials=credentials,
            audit_path=tmp_path / "audit.jsonl",
            device_name="kiosk-1",
            site="Main St clinic",
        )
        box.start_conversation("conv-1")
        boxes.append(box)
        return box

    yield make
    for box in boxes:
        await box.close()
