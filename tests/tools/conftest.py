"""Fixtures: the job-status service on loopback, and tool boxes built against it (the tools
themselves: tests/helpers/tools.py)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from device.tools.settings import ToolsSettings
from device.tools.toolbox import Toolbox
from tests.helpers.tools import MakeBox
from tools.job_status_service import JobService


@pytest.fixture
def token() -> str:
    """A fresh bearer token per test, so "never in the log" can fail for real."""
    return "tok-" + secrets.token_hex(12)


@pytest.fixture
def service(token: str) -> Iterator[JobService]:
    with JobService(token=token) as running:
        yield running


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
