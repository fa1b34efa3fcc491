"""The tool box against a real job-status service on loopback: what the model gets back,
what the service sees, and what the audit log keeps."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from device.common.problems import ConfigError
from device.tools.base import ToolAction, ToolCall, ToolContext, ToolResult
from device.tools.settings import (
    EndSessionTool,
    EscalateTool,
    FaqEntry,
    FaqTool,
    Header,
    HttpTool,
    ToolsSettings,
)
from device.tools.toolbox import Toolbox
from tests.helpers.tools import JOB_PARAMETERS, MakeBox, close_job, job_status
from tools.job_status_service import JobService

Transcript = tuple[tuple[str, str], ...]


def ctx(*turns: tuple[str, str], conversation: str = "conv-1") -> ToolContext:
    return ToolContext(conversation_id=conversation, transcript=tuple(turns))


_ids = iter(range(1, 1_000_000))


async def call(
    box: Toolbox, name: str, arguments: Any, context: ToolContext | None = None
) -> ToolResult:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return await box.run(ToolCall(f"call_{next(_ids)}", name, text), context or ctx())


def audit(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]


# -- http ---------------------------------------------------------------------------------


async def test_job_status_gives_the_selected_fields(
    make_box: MakeBox, service: JobService, tmp_path: Path, token: str
) -> None:
    box = make_box(job_status(service))
    result = await call(box, "job_status", {"job_id": "4172"})
    assert result.ok, result.output
    assert json.loads(result.output) == {
        "status": "in progress",
        "eta": "14:30",
        "technician.name": "Sam Okafor",
    }
    assert "phone" not in result.output  # not selected, not given to the model
    [seen] = service.seen
    assert (seen.method, seen.path, seen.authorized) == ("GET", "/jobs/4172", True)
    [line] = audit(tmp_path)
    assert line["tool"] == "job_status" and line["status"] == "ok" and line["ok"] is True
    assert line["arguments"] == {"job_id": "4172"}
    assert line["request"]["headers"] == ["Authorization"]
    assert line["ms"] > 0 and line["server_ms"] >= 0
    assert token not in (tmp_path / "audit.jsonl").read_text()


async def test_timeout_answers_the_model_well_within_the_limit(
    make_box: MakeBox, service: JobService, tmp_path: Path
) -> None:
    service.delay_ms = 5000
    box = make_box(job_status(service, timeout_s=0.3))
    start = time.monotonic()
    result = await call(box, "job_status", {"job_id": "4172"})
    elapsed = time.monotonic() - start
    assert elapsed < 0.3 + 0.5
    assert not result.ok
    assert "did not answer within 0.3 s" in result.output
    assert "\n" not in result.output
    assert audit(tmp_path)[0]["status"] == "timeout"


@pytest.mark.parametrize(
    ("mode", "job", "expected"),
    [
        ("ok", "9999", "HTTP 404 Not Found"),
        ("500", "4172", "HTTP 500"),
        ("not_json", "4172", "answer was not JSON"),
        ("huge", "4172", "larger than 65536 bytes"),
    ],
)
async def test_bad_answers_become_one_line_failures(
    make_box: MakeBox, service: JobService, tmp_path: Path, mode: str, job: str, expected: str
) -> None:
    service.mode = mode
    box = make_box(job_status(service, max_answer_bytes=65536))
    result = await call(box, "job_status", {"job_id": job})
    assert not result.ok
    assert expected in result.output
    assert result.output.startswith("job_status failed:") and "\n" not in result.output
    assert result.action is ToolAction.CONTINUE
    assert audit(tmp_path)[0]["status"] == "error"


async def test_connection_refused_is_a_failure_not_a_hang(make_box: MakeBox) -> None:
    with JobService() as gone:
        url = gone.url
    box = make_box(HttpTool(name="t", description="d", url=url + "/jobs/4172", timeout_s=1.0))
    result = await call(box, "t", {})
    assert not result.ok
    assert "could not connect" in result.output


async def test_host_off_the_allowlist_is_never_contacted(
    make_box: MakeBox, service: JobService, tmp_path: Path
) -> None:
    port = service.url.rsplit(":", 1)[1]
    params: dict[str, object] = {
        "type": "object",
        "properties": {"host": {"type": "string"}, "job_id": {"type": "string"}},
        "required": ["host", "job_id"],
    }
    box = make_box(
        HttpTool(
            name="by_host",
            description="d",
            parameters=params,
            url="http://{host}:" + port + "/jobs/{job_id}",
            headers=(Header(name="Authorization", value="Bearer {credential:job-api-token}"),),
        ),
    )
    refused = await call(box, "by_host", {"host": "localhost", "job_id": "4172"})  # loopback too
    assert not refused.ok
    assert "host localhost is not on this device's allowlist" in refused.output
    # a request that is allowed, afterwards: the service saw only that one
    allowed = await call(box, "by_host", {"host": "127.0.0.1", "job_id": "4172"})
    assert allowed.ok, allowed.output
    assert [s.path for s in service.seen] == ["/jobs/4172"]
    assert [r["status"] for r in audit(tmp_path)] == ["refused", "ok"]


async def test_placeholders_are_url_encoded(make_box: MakeBox, service: JobService) -> None:
    params = {"type": "object", "properties": {"job_id": {"type": "string"}}}
    box = make_box(job_status(service, parameters=params))
    result = await call(box, "job_status", {"job_id": "../stock?item=claw hammer"})
    assert "HTTP 404" in result.output
    [seen] = service.seen
    assert seen.path == "/jobs/..%2Fstock%3Fitem%3Dclaw%20hammer"
    assert seen.query == {}


def test_a_literal_host_off_the_allowlist_is_a_config_error() -> None:
    settings = ToolsSettings(
        allow_hosts=("jobs.example.com",),
        items=(HttpTool(name="t", description="d", url="https://evil.example.net/x"),),
    )
    with pytest.raises(ConfigError) as err:
        Toolbox.from_settings(settings, credentials=None, audit_path=None)
    assert err.value.problems == [
        "tools.items[0].url: host evil.example.net is not on this device's allowlist "
        "(tools.allow_hosts)"
    ]


async def test_get_leftover_arguments_go_in_the_query(
    make_box: MakeBox, service: JobService, token: str
) -> None:
    service.token = None
    box = make_box(
        HttpTool(
            name="stock",
            description="Is an item in stock, and in which aisle.",
            parameters={"type": "object", "properties": {"item": {"type": "string"}}},
            url=service.url + "/stock",
            select=("in_stock", "aisle"),
        )
    )
    result = await call(box, "stock", {"item": "Claw hammer"})
    assert json.loads(result.output) == {"in_stock": 12, "aisle": "4"}
    assert service.seen[0].query == {"item": ["Claw hammer"]}


# -- guardrails ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"job_id": "41a2"}, "$.job_id: '41a2' does not match"),
        ({}, "'job_id' is a required property"),
        ({"job_id": "4172", "extra": 1}, "Additional properties are not allowed"),
        ("{not json", "not JSON"),
        ("[1]", "must be a JSON object"),
    ],
)
async def test_bad_arguments_are_refused_before_anything_runs(
    make_box: MakeBox,
    service: JobService,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    arguments: Any,
    expected: str,
) -> None:
    box = make_box(job_status(service))
    with caplog.at_level(logging.WARNING, logger="device.tools"):
        result = await call(box, "job_status", arguments)
    assert not result.ok
    assert result.output.startswith("Invalid arguments for job_status:")
    assert expected in result.output
    assert service.seen == []
    [line] = audit(tmp_path)
    assert line["status"] == "invalid_arguments"
    assert any("Invalid arguments for job_status" in r.getMessage() for r in caplog.records)


ASKED = ("user", "Please close job 4172.")
READ_BACK = ("assistant", "Close job four one seven two. Is that right?")


async def test_confirm_tool_runs_only_after_a_spoken_yes(
    make_box: MakeBox, service: JobService, tmp_path: Path
) -> None:
    box = make_box(close_job(service))
    first = await call(box, "close_job", {"job_id": "4172"}, ctx(ASKED))
    assert not first.ok
    assert "Read the details back" in first.output and "digit by digit" in first.output
    assert service.seen == []
    second = await call(
        box, "close_job", {"job_id": "4172"}, ctx(ASKED, READ_BACK, ("user", "Yes, that's it."))
    )
    assert second.ok, second.output
    assert json.loads(second.output) == {"status": "closed"}
    assert [(s.method, s.path) for s in service.seen] == [("POST", "/jobs/4172/close")]
    assert [r["status"] for r in audit(tmp_path)] == ["needs_confirmation", "ok"]


async def test_confirm_tool_does_not_run_after_a_no(
    make_box: MakeBox, service: JobService, tmp_path: Path
) -> None:
    box = make_box(close_job(service))
    await call(box, "close_job", {"job_id": "4172"}, ctx(ASKED))
    answer = ("user", "No, that's not right.")  # "right" is a yes word: the no wins
    result = await call(box, "close_job", {"job_id": "4172"}, ctx(ASKED, READ_BACK, answer))
    assert not result.ok
    assert "did not confirm" in result.output
    assert service.seen == []
    assert service.jobs["4172"]["status"] == "in progress"
    assert [r["status"] for r in audit(tmp_path)] == ["needs_confirmation", "declined"]


async def test_a_yes_before_any_read_back_does_not_count(
    make_box: MakeBox, service: JobService
) -> None:
    box = make_box(close_job(service))
    eager = ctx(("assistant", "Anything else?"), ("user", "Yes, close job 4172."))
    result = await call(box, "close_job", {"job_id": "4172"}, eager)
    assert "Read the details back" in result.output
    # read back, but the caller corrects the number: the model calls with other arguments
    changed = ctx(*eager.transcript, READ_BACK, ("user", "Yes"))
    result = await call(box, "close_job", {"job_id": "4173"}, changed)
    assert "Read the details back" in result.output
    # no new read-back since then: still not confirmed
    result = await call(box, "close_job", {"job_id": "4173"}, changed)
    assert "Read the details back" in result.output
    assert service.seen == []


async def test_call_limits_per_conversation(make_box: MakeBox, tmp_path: Path) -> None:
    faq = FaqTool(entries=(FaqEntry(keywords=("hours",), answer="8 to 6."),))
    box = make_box(faq, EndSessionTool(), max_calls_per_conversation=2)
    for _ in range(2):
        assert (await call(box, "faq", {"question": "hours"})).ok
    third = await call(box, "faq", {"question": "hours"})
    assert not third.ok
    assert "limit reached (2 per conversation)" in third.output
    ending = await call(box, "end_session", {})  # never limited: a caller can always leave
    assert ending.ok and ending.action is ToolAction.END
    # a new visitor starts afresh, also when the engine only changes the conversation id
    fresh = await call(box, "faq", {"question": "hours"}, ctx(conversation="conv-2"))
    assert fresh.ok
    assert [r["status"] for r in audit(tmp_path)] == ["ok", "ok", "limit", "ok", "ok"]


async def test_per_tool_limit(make_box: MakeBox, service: JobService) -> None:
    box = make_box(job_status(service, max_calls=1))
    assert (await call(box, "job_status", {"job_id": "4172"})).ok
    again = await call(box, "job_status", {"job_id": "4172"})
    assert "already called 1 time" in again.output
    assert len(service.seen) == 1


async def test_unknown_tool(make_box: MakeBox) -> None:
    result = await call(make_box(EndSessionTool()), "launch_rockets", {})
    assert not result.ok
    assert result.output == "There is no tool named launch_rockets (tools: end_session)."


# -- faq, escalate, end_session -----------------------------------------------------------


async def test_faq_answers_by_keywords_or_offers_a_handover(make_box: MakeBox) -> None:
    box = make_box(
        FaqTool(
            entries=(
                FaqEntry(keywords=("hours", "open", "close"), answer="We open 8 to 6."),
                FaqEntry(keywords=("parking", "car park"), answer="Parking is behind us."),
            )
        )
    )
    hours = await call(box, "faq", {"question": "When do you open?"})
    assert hours.output == "We open 8 to 6."
    park = await call(box, "faq", {"question": "Is there a car park?"})
    assert park.output == "Parking is behind us."
    nothing = await call(box, "faq", {"question": "Do you sell bikes?"})
    assert nothing.ok and "offer to call a member of staff" in nothing.output


@pytest.mark.parametrize(
    ("then", "action"), [("hold", ToolAction.HANDOVER_HOLD), ("end", ToolAction.HANDOVER_END)]
)
async def test_escalate_posts_the_conversation_to_the_webhook(
    make_box: MakeBox, service: JobService, token: str, then: str, action: ToolAction
) -> None:
    box = make_box(
        EscalateTool(
            webhook_url=service.url + "/handover",
            headers=(Header(name="Authorization", value="Bearer {credential:job-api-token}"),),
            then=then,  # type: ignore[arg-type]
        )
    )
    turns = (("user", "I need to see a nurse."), ("assistant", "I will call someone."))
    result = await call(box, "escalate", {"summary": "Visitor asks for a nurse."}, ctx(*turns))
    assert result.ok, result.output
    assert (result.action, result.prompt) == (action, "handover")
    assert service.handovers == [
        {
            "device": "kiosk-1",
            "site": "Main St clinic",
            "conversation_id": "conv-1",
            "summary": "Visitor asks for a nurse.",
            "transcript": [
                {"role": "user", "text": "I need to see a nurse."},
                {"role": "assistant", "text": "I will call someone."},
            ],
        }
    ]


async def test_escalate_failure_keeps_the_conversation_going(
    make_box: MakeBox, service: JobService
) -> None:
    service.mode = "500"
    box = make_box(EscalateTool(webhook_url=service.url + "/handover"))
    result = await call(box, "escalate", {"summary": "x"})
    assert not result.ok
    assert (result.action, result.prompt) == (ToolAction.CONTINUE, None)
    assert "hand-over failed" in result.output and "HTTP 500" in result.output


async def test_end_session(make_box: MakeBox) -> None:
    box = make_box(EndSessionTool(prompt="goodbye"))
    result = await call(box, "end_session", "")
    assert result.ok
    assert (result.action, result.prompt) == (ToolAction.END, "goodbye")


# -- credentials and the audit log ----------------------------------------------------------


async def test_missing_credential_is_a_clear_failure(
    make_box: MakeBox, service: JobService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tool = job_status(
        service, headers=(Header(name="Authorization", value="Bearer {credential:other}"),)
    )
    box = make_box(tool)
    with caplog.at_level(logging.ERROR, logger="device.tools"):
        result = await call(box, "job_status", {"job_id": "4172"})
    assert not result.ok
    assert "not set up on this device (a credential is missing)" in result.output
    assert service.seen == []
    assert "credential 'other' not found" in caplog.text
    assert "credential 'other' not found" in audit(tmp_path)[0]["detail"]


async def test_audit_never_holds_a_secret(
    make_box: MakeBox,
    service: JobService,
    tmp_path: Path,
    token: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    params = {
        "type": "object",
        "properties": {"job_id": {"type": "string"}, "access_token": {"type": "string"}},
    }
    box = make_box(job_status(service, parameters=params, url=service.url + "/jobs/{job_id}"))
    with caplog.at_level(logging.DEBUG):
        # the model echoes the credential in an argument: masked wherever it appears
        await call(box, "job_status", {"job_id": "4172", "access_token": "abc123"})
        await call(box, "job_status", {"job_id": token[:4], "note": f"x {token} y"})
        await call(box, "job_status", '{"job_id": "' + token + '"')
    text = (tmp_path / "audit.jsonl").read_text()
    lines = audit(tmp_path)
    assert lines[0]["arguments"] == {"job_id": "4172", "access_token": "***"}
    assert lines[0]["request"]["url"].endswith("/jobs/4172?access_token=***")
    assert "abc123" not in text
    assert token not in text
    assert token not in caplog.text
    assert {"time", "tool", "arguments", "status", "ms"} <= set(lines[0])


def test_tools_load_from_yaml(tmp_path: Path) -> None:
    from device.config.loader import load_settings

    config = tmp_path / "kiosk.yaml"
    config.write_text(
        """
tools:
  allow_hosts: [127.0.0.1, "*.example.com"]
  max_calls_per_conversation: 5
  items:
    - kind: faq
      entries:
        - keywords: [hours, open]
          answer: We open at 8.
    - kind: http
      name: job_status
      description: Look up a job.
      parameters:
        type: object
        properties:
          job_id: {type: string, pattern: "^[0-9]{4}$"}
          lines:
            type: array
            items: {type: object, properties: {n: {type: integer, minimum: 1}}}
        required: [job_id]
      url: https://jobs.example.com/jobs/{job_id}
      headers:
        - name: Authorization
          value: "Bearer {credential:job-api-token}"
      select: [status]
      confirm: true
    - kind: escalate
      webhook_url: https://hooks.example.com/desk
      then: end
    - kind: end_session
"""
    )
    settings = load_settings(config)
    box = Toolbox.from_settings(settings.tools, credentials=None, audit_path=None)
    names = [d.name for d in box.declarations()]
    assert names == ["faq", "job_status", "escalate", "end_session"]
    declared = box.declarations()[1]
    assert declared.description == "Look up a job."
    assert declared.parameters["properties"]["job_id"] == {
        "type": "string",
        "pattern": "^[0-9]{4}$",
    }
    assert declared.parameters["required"] == ["job_id"]
    text = box.instructions()
    assert "Before calling job_status, read the details back" in text
    assert "call escalate" in text and "call end_session" in text


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        (
            HttpTool(
                name="t",
                description="d",
                url="http://127.0.0.1/x",
                headers=(Header(name="Authorization", value="Bearer abc"),),
            ),
            "tools.items[0].headers[0].value: a Authorization header must take its secret "
            "from a credential",
        ),
        (
            HttpTool(name="t", description="d", url="http://127.0.0.1/jobs/{id}"),
            "tools.items[0].url: placeholder {id} is not a property of parameters",
        ),
        (
            HttpTool(
                name="t", description="d", url="http://127.0.0.1/", parameters={"type": "nope"}
            ),
            "tools.items[0].parameters: not a valid JSON schema",
        ),
        (
            HttpTool(name="t", description="d", url="ftp://127.0.0.1/"),
            "tools.items[0].url: only http and https URLs are allowed (got ftp)",
        ),
        (FaqTool(name="bad name"), "tools.items[0].name: must be 1-64 letters"),
        (FaqTool(), "tools.items[0].entries: add at least one entry"),
    ],
)
def test_unusable_tools_are_one_line_config_errors(item: Any, problem: str) -> None:
    settings = ToolsSettings(allow_hosts=("127.0.0.1",), items=(item,))
    with pytest.raises(ConfigError) as err:
        Toolbox.from_settings(settings, credentials=None, audit_path=None)
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems
    assert all("\n" not in p for p in err.value.problems)


def test_job_parameters_fixture_is_a_valid_schema() -> None:
    from device.tools.schema import schema_problem

    assert schema_problem(JOB_PARAMETERS) is None


# -- one visitor, one object ------------------------------------------------------------------


async def test_nothing_of_one_visitor_reaches_the_next(
    make_box: MakeBox, service: JobService, tmp_path: Path
) -> None:
    """Counts, pending read-backs and the latest audit record go with the visitor."""
    faq = FaqTool(entries=(FaqEntry(keywords=("hours",), answer="8 to 6."),), max_calls=1)
    box = make_box(faq, close_job(service), max_calls_per_conversation=2)
    box.start_conversation("visitor-1")
    first = ctx(ASKED, conversation="visitor-1")
    assert (await call(box, "faq", {"question": "hours"}, first)).ok
    asked = await call(box, "close_job", {"job_id": "4172"}, first)  # read-back pending
    assert "Read the details back" in asked.output
    assert box.last_audit is not None and box.last_audit["arguments"] == {"job_id": "4172"}
    limit = await call(box, "faq", {"question": "hours"}, first)
    assert "already called 1 time" in limit.output

    box.start_conversation("visitor-2")
    assert box.last_audit is None  # the first visitor's arguments are gone
    assert box.visit.calls == [] and box.visit.limits.total == 0
    # the same words from the second visitor do not complete the first one's read-back
    second = ctx(ASKED, READ_BACK, ("user", "Yes."), conversation="visitor-2")
    again = await call(box, "close_job", {"job_id": "4172"}, second)
    assert not again.ok and "Read the details back" in again.output
    assert service.seen == []
    # and the counts start from zero: faq (max_calls 1) answers again
    assert (await call(box, "faq", {"question": "hours"}, second)).output == "8 to 6."
    records = audit(tmp_path)
    assert [r["conversation_id"] for r in records] == ["visitor-1"] * 3 + ["visitor-2"] * 2
    assert [r["status"] for r in records[3:]] == ["needs_confirmation", "ok"]


def test_every_tool_kind_is_declared_once_in_the_registry() -> None:
    import typing

    from device.tools.registry import KINDS
    from device.tools.settings import ToolItem

    assert [k.settings for k in KINDS] == list(typing.get_args(ToolItem))
    for kind in KINDS:
        hint = typing.get_type_hints(kind.settings)["kind"]
        assert typing.get_args(hint) == (kind.name,)


def test_declarations_are_neutral_tool_specs(make_box: MakeBox) -> None:
    from device.tools.base import ToolSpec

    box = make_box(EndSessionTool(prompt=None))
    [spec] = box.declarations()
    assert spec == ToolSpec(
        "end_session",
        EndSessionTool().description,
        {
            "type": "object",
            "properties": {"reason": {"type": "string", "description": "Why, in a few words."}},
        },
    )
    tools_dir = Path(__file__).resolve().parents[2] / "device/tools"
    sources = "".join(p.read_text() for p in tools_dir.rglob("*.py"))
    assert '"type": "function"' not in sources
