"""Hand-over to a human: POST the conversation to a webhook, then hold or end.

The webhook gets JSON ``{device, site, conversation_id, summary, transcript}`` where
``transcript`` is ``[{role, text}, ...]`` oldest first and ``summary`` is the model's
own one or two sentences. Any 2xx answer counts as delivered (its body is ignored).
On success the device plays the ``prompt`` (default ``handover``) and holds the
conversation or ends it (``then``); on failure the model is told to apologise.
Pure: the POST goes through an injected ``Fetch`` (device/tools/http_client.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from device.tools.base import ToolAction, ToolContext
from device.tools.http_rules import url_problem
from device.tools.http_tool import Credentials, Fetch, check_headers, fill_headers
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
PROMPT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # a file NAME.wav in the prompts folder


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
        fetch: Fetch,
        credentials: Credentials,
    ) -> None:
        self.tool = tool
        self.allow_hosts = tuple(allow_hosts)
        self._fetch = fetch
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
        url = tool.webhook_url
        problem = url_problem(url, self.allow_hosts)
        if problem is not None:
            return self._fail(problem)
        try:
            headers, secrets = fill_headers(tool.headers, self._credentials)
        except Exception as exc:  # the credential source's error: one line, no secret
            return self._fail("a credential is missing: " + (" ".join(str(exc).split())))
        extra: dict[str, Any] = {
            "request": {"method": "POST", "url": url, "headers": sorted(headers)},
            "secrets": secrets,
        }
        body = handover_body(str(arguments.get("summary", "")), context)
        got = await self._fetch(
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


def prompt_problem(prompt: str | None) -> str | None:
    """None for a plain prompt name (or none), else why not: prompts live in the folder."""
    if prompt is None or PROMPT_NAME.fullmatch(prompt):
        return None
    return (
        "must be the name of a prompt in conversation.prompts_dir (letters, digits, _ and -, "
        "no folders), e.g. handover"
    )


def check_escalate(item: EscalateTool, where: str, allow_hosts: tuple[str, ...]) -> list[str]:
    """Config-time problems of one escalate tool (pure)."""
    problems = []
    why = url_problem(item.webhook_url, allow_hosts)
    if why:
        problems.append(f"{where}.webhook_url: {why}")
    problems += check_headers(item.headers, where)
    why = prompt_problem(item.prompt)
    if why:
        problems.append(f"{where}.prompt: {why}")
    return problems
