"""Hand-over to a human: POST the conversation to a webhook, then hold or end.

The webhook gets JSON ``{device, site, conversation_id, summary, transcript}`` where
``transcript`` is ``[{role, text}, ...]`` oldest first and ``summary`` is the model's
own one or two sentences. Any 2xx answer counts as delivered (its body is ignored).
On success the device plays the ``prompt`` (default ``handover``) and holds the
conversation or ends it (``then``); on failure the model is told to apologise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from device.tools.base import ToolAction, ToolContext
from device.tools.http_tool import Credentials, checked_url, fetch, fill_headers
from device.tools.outcome import Outcome
from device.tools.settings import EscalateTool

log = logging.getLogger(__name__)

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {
            "type": "string",
            "minLength": 1,
            "description": "One or two sentences for the staff member: who the caller is and "
            "what they need.",
        }
    },
    "required": ["summary"],
}

MAX_ANSWER_BYTES = 65536


def handover_body(summary: str, context: ToolContext) -> dict[str, Any]:
    return {
        "device": context.device_name,
        "site": context.site,
        "conversation_id": context.conversation_id,
        "summary": summary,
        "transcript": [{"role": role, "text": text} for role, text in context.transcript],
    }


class EscalateRunner:
    def __init__(
        self,
        tool: EscalateTool,
        *,
        allow_hosts: Sequence[str],
        client: Callable[[], httpx.AsyncClient],
        credentials: Credentials,
    ) -> None:
        self.tool = tool
        self.allow_hosts = tuple(allow_hosts)
        self._client = client
        self._credentials = credentials

    def _fail(self, why: str, **extra: Any) -> Outcome:
        log.error("hand-over by %s failed: %s", self.tool.name, why)
        return Outcome(
            ok=False,
            output=f"The hand-over failed: staff could not be reached ({why}). Apologise, and "
            "suggest the caller asks at the front desk or calls the main number.",
            status="error",
            detail=why,
            **extra,
        )

    async def run(self, arguments: Mapping[str, Any], context: ToolContext) -> Outcome:
        tool = self.tool
        url, problem = checked_url(tool.webhook_url, self.allow_hosts)
        if url is None or problem is not None:
            return self._fail(problem or "bad webhook URL")
        try:
            headers, secrets = fill_headers(tool.headers, self._credentials)
        except Exception as exc:  # the credential source's error: one line, no secret
            return self._fail("a credential is missing: " + (" ".join(str(exc).split())))
        extra: dict[str, Any] = {
            "request": {"method": "POST", "url": str(url), "headers": sorted(headers)},
            "secrets": secrets,
        }
        body = handover_body(str(arguments.get("summary", "")), context)
        got = await fetch(
            self._client(),
            "POST",
            url,
            headers=headers,
            body=body,
            timeout_s=tool.timeout_s,
            max_bytes=MAX_ANSWER_BYTES,
        )
        extra["server_ms"] = got.server_ms
        if got.error is not None:
            return self._fail(got.error, **extra)
        if not 200 <= got.status < 300:
            return self._fail(f"the webhook answered HTTP {got.status}", **extra)
        heard = tool.prompt is not None
        if tool.then == "end":
            action = ToolAction.HANDOVER_END
            output = "Staff have been called. The conversation ends now; say nothing more."
        elif heard:
            action = ToolAction.HANDOVER_HOLD
            output = (
                "Staff have been called and the caller has heard that someone is coming; do "
                "not repeat it. Stay with the caller and keep helping until staff arrive."
            )
        else:
            action = ToolAction.HANDOVER_HOLD
            output = (
                "Staff have been called. Tell the caller in one short sentence that someone "
                "is on the way, and keep helping until they arrive."
            )
        return Outcome(
            ok=True, output=output, status="ok", action=action, prompt=tool.prompt, **extra
        )
