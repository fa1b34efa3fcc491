"""Settings of the tools the model may call (the `tools:` section).

Tools are a list of items told apart by ``kind``: ``faq``, ``http``, ``escalate`` and
``end_session``. Secrets never go in YAML: an HTTP header that needs one names a credential
in its value (``value: "Bearer {credential:job-api-token}"``); the credential is read when
the tool runs (systemd credential, environment variable or 0600 key file; see README).

Example::

    tools:
      allow_hosts: [jobs.example.com]
      items:
        - kind: http
          name: job_status
          description: Look up a job by its number.
          parameters:
            type: object
            properties: {job_id: {type: string, pattern: "^[0-9]{4,8}$"}}
            required: [job_id]
          url: https://jobs.example.com/jobs/{job_id}
          headers:
            - {name: Authorization, value: "Bearer {credential:job-api-token}"}
          select: [status, eta]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from device.common.options import option

DEFAULT_YES_WORDS = (
    "yes",
    "yeah",
    "yep",
    "yup",
    "correct",
    "right",
    "sure",
    "confirm",
    "confirmed",
    "affirmative",
    "go ahead",
    "do it",
    "ok",
    "okay",
    "please do",
)
DEFAULT_NO_WORDS = (
    "no",
    "nope",
    "nah",
    "not",
    "don't",
    "dont",
    "wrong",
    "incorrect",
    "cancel",
    "stop",
    "wait",
    "hold on",
)


@dataclass(frozen=True, kw_only=True)
class Header:
    """One HTTP header; ``{credential:NAME}`` in the value is replaced when the tool runs."""

    name: str = option(doc="Header name, e.g. Authorization.")
    value: str = option(
        doc="Header value; secrets only as {credential:NAME}, e.g. 'Bearer {credential:api}'."
    )


@dataclass(frozen=True, kw_only=True)
class FaqEntry:
    """One question and its answer."""

    keywords: tuple[str, ...] = option(
        doc="Words or short phrases that point to this answer, e.g. [hours, open, close]."
    )
    answer: str = option(doc="The answer, in a sentence or two.", blank=False)


@dataclass(frozen=True, kw_only=True)
class FaqTool:
    """Answers from a fixed list of questions, matched by keywords (no network)."""

    kind: Literal["faq"] = option("faq", doc="Answers from a list, matched by keywords.")
    name: str = option("faq", doc="Tool name the model calls.")
    description: str = option(
        "Answer the caller's question about this place (opening hours, directions, "
        "policies) from the official list. Pass the question in a few words.",
        doc="What the tool is for, as the model reads it.",
        blank=False,
    )
    entries: tuple[FaqEntry, ...] = option((), doc="The questions and answers.")
    min_score: float = option(
        1.0, doc="Least keyword score an entry needs to be the answer.", min=0, max=100
    )
    max_calls: int | None = option(
        None,
        doc="Most calls of this tool per conversation (empty: only the overall limit).",
        min=1,
        max=1000,
    )


@dataclass(frozen=True, kw_only=True)
class HttpTool:
    """A call to an HTTP JSON API on an allowed host."""

    kind: Literal["http"] = option("http", doc="A call to an HTTP JSON API.")
    name: str = option(doc="Tool name the model calls, e.g. job_status.")
    description: str = option(doc="What the tool is for, as the model reads it.", blank=False)
    parameters: dict[str, object] = option(
        {"type": "object", "properties": {}},
        doc="JSON schema of the arguments (an object); checked before anything runs.",
    )
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = option(
        "GET", doc="HTTP method; POST/PUT/PATCH send the arguments not used in url as JSON."
    )
    url: str = option(
        doc="URL template; {arg} placeholders are filled from the arguments, URL-encoded."
    )
    headers: tuple[Header, ...] = option((), doc="Extra request headers.")
    timeout_s: float = option(2.0, doc="Give up on the request after this long.", min=0.05, max=60)
    select: tuple[str, ...] = option(
        (), doc="Dotted paths of the answer's fields to give the model (empty: all of it)."
    )
    max_answer_bytes: int = option(
        65536, doc="Refuse answers larger than this many bytes.", min=16, max=1_048_576
    )
    confirm: bool = option(False, doc="Run only after the caller's spoken yes to a read-back.")
    max_calls: int | None = option(
        None,
        doc="Most calls of this tool per conversation (empty: only the overall limit).",
        min=1,
        max=1000,
    )


@dataclass(frozen=True, kw_only=True)
class EscalateTool:
    """Hand the caller over to a human: post the conversation to a webhook."""

    kind: Literal["escalate"] = option("escalate", doc="Hand-over to a human.")
    name: str = option("escalate", doc="Tool name the model calls.")
    description: str = option(
        "Call a member of staff when the caller asks for a person or you cannot help. "
        "Give a one or two sentence summary of who the caller is and what they need.",
        doc="What the tool is for, as the model reads it.",
        blank=False,
    )
    webhook_url: str = option(
        doc="Where the hand-over is POSTed as JSON {device, site, conversation_id, summary, "
        "transcript}; its host must be in allow_hosts."
    )
    headers: tuple[Header, ...] = option((), doc="Extra request headers for the webhook.")
    timeout_s: float = option(2.0, doc="Give up on the webhook after this long.", min=0.05, max=60)
    prompt: str | None = option(
        "handover", doc="Canned prompt the device plays on hand-over (its text: prompts.yaml)."
    )
    then: Literal["hold", "end"] = option(
        "hold", doc="hold: stay in the conversation until staff arrive; end: hang up after."
    )
    max_calls: int | None = option(1, doc="Most hand-overs per conversation.", min=1, max=100)


@dataclass(frozen=True, kw_only=True)
class EndSessionTool:
    """Hang up once the goodbye has finished playing."""

    kind: Literal["end_session"] = option("end_session", doc="End the conversation.")
    name: str = option("end_session", doc="Tool name the model calls.")
    description: str = option(
        "End the conversation when the caller says goodbye or has nothing more to ask. "
        "Say a short goodbye first.",
        doc="What the tool is for, as the model reads it.",
        blank=False,
    )
    prompt: str | None = option(
        "goodbye",
        doc="Canned prompt played before hanging up when the model said no goodbye (null: none).",
    )


ToolItem = FaqTool | HttpTool | EscalateTool | EndSessionTool


@dataclass(frozen=True, kw_only=True)
class ToolsSettings:
    """The tools the model may call, and their guardrails."""

    slow_filler_ms: int = option(
        700, doc="Say the filler prompt when a tool runs longer than this.", min=0, max=10000
    )
    allow_hosts: tuple[str, ...] = option(
        (), doc="Hosts HTTP tools and webhooks may reach; '*.example.com' allows subdomains."
    )
    max_calls_per_conversation: int = option(
        10,
        doc="Most faq/http tool calls per conversation (end_session is never limited).",
        min=1,
        max=1000,
    )
    audit_log: Path | None = option(
        None, doc="JSON-lines audit log of every tool call (empty: audit to the journal only)."
    )
    confirm_yes_words: tuple[str, ...] = option(
        DEFAULT_YES_WORDS, doc="Words and phrases that count as the caller's yes."
    )
    confirm_no_words: tuple[str, ...] = option(
        DEFAULT_NO_WORDS, doc="Words and phrases that count as a no (a no beats a yes)."
    )
    credential_dir: Path | None = option(
        None, doc="Folder of 0600 credential files, after systemd credentials and env vars."
    )
    items: tuple[ToolItem, ...] = option((), doc="The tools, each with a kind.")
