"""Tool settings against the job-status service (tools/job_status_service.py), and what the
`make_box` fixture (tests/tools/conftest.py) hands a test.

    box = make_box(job_status(service), close_job(service))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from device.tools.settings import Header, HttpTool
from device.tools.toolbox import Toolbox
from tools.job_status_service import JobService

JOB_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"job_id": {"type": "string", "pattern": "^[0-9]{4}$"}},
    "required": ["job_id"],
    "additionalProperties": False,
}

MakeBox = Callable[..., Toolbox]  # make_box(*items, **tools_settings) -> a Toolbox


def job_status(service: JobService, **changes: Any) -> HttpTool:
    """A read-only tool: a job's status by its four-digit number."""
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
