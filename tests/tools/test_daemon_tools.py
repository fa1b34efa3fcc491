"""Function calling through the whole daemon: the model calls a tool, the device runs it.

The in-process `Daemon` runs with its real adapters (WAV microphone and speaker, the
websockets link) and a real tool box against the Realtime emulator and the job-status
service, both on loopback. Every event in both directions is validated against the
official `openai` types. The canned prompts (filler, goodbye, hand-over) really play.

Each scenario turn needs the caller to really speak (the emulator's VAD needs energy; the
transcript comes from the scenario), so a test with N turns joins N recorded questions.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from device.audio.settings import FileInput, FileOutput
from device.audio.wav import WavMic, WavSpeaker, read_wav
from device.config.loader import load_settings
from device.config.settings import Settings
from device.daemon.daemon import Daemon
from device.daemon.drain import RunOptions
from device.daemon.link_manager import Link
from device.prompts.library import PromptLibrary
from device.realtime.commands import LinkCommand
from device.realtime.events import InputTranscript, ResponseDone, ServerEvent
from device.realtime.link import RealtimeLink
from device.services.summary import RunSummary
from device.tools.settings import (
    EndSessionTool,
    EscalateTool,
    Header,
    ToolItem,
    ToolsSettings,
)
from device.tools.toolbox import Toolbox
from tests.helpers import DEMO_AUDIO, DEMO_CONFIG, KEY, concat_wavs, validate
from tests.helpers.tools import JOB_PARAMETERS, close_job, job_status
from tools.job_status_service import JobService
from tools.realtime_emulator import Emulator, Scenario

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = ROOT / "device/prompts/default"
TOKEN = "tok-daemon-tools-0123456789"
AUTH = (Header(name="Authorization", value="Bearer {credential:job-api-token}"),)
UNAVAILABLE_REPLY = "Sorry, the job system is not available right now."
# the model's answer: the tool output when it worked, an apology when it failed (every
# failure output of an HTTP tool tells the model the tool is "not available right now")
JOB_REPLY: list[dict[str, str]] = [
    {"if_output_contains": "not available right now", "say": UNAVAILABLE_REPLY},
    {"say": "The job system says: {output}"},
]
ASK_JOB = "What is the status of job four one seven two?"


@pytest.fixture
def service() -> Iterator[JobService]:
    with JobService(token=TOKEN) as running:
        yield running


def speech(tmp_path: Path, *names: str) -> Path:
    """The caller's side of a conversation: one recorded utterance per turn."""
    if len(names) == 1:
        return DEMO_AUDIO / names[0]
    return concat_wavs(tmp_path / "caller.wav", [DEMO_AUDIO / n for n in names], 2500)


def kiosk_settings(
    tmp_path: Path,
    caller: Path,
    items: tuple[ToolItem, ...],
    *,
    in_speed: float = 0,
    out_speed: float = 0,
    idle_timeout_s: float | None = None,
    **tools: Any,
) -> Settings:
    base = load_settings(DEMO_CONFIG)
    audio = dataclasses.replace(
        base.audio,
        input=FileInput(path=caller, speed=in_speed, tail_silence_ms=2000),
        output=FileOutput(path=tmp_path / "reply.wav", speed=out_speed),
    )
    conversation = dataclasses.replace(  # no wake word, no disclosure (the tools are tested)
        base.conversation, start="at_startup", disclosure=None
    )
    if idle_timeout_s is not None:
        conversation = dataclasses.replace(conversation, idle_timeout_s=idle_timeout_s)
    fields: dict[str, Any] = {"allow_hosts": ("127.0.0.1",), "slow_filler_ms": 700}
    fields.update(tools)
    tool_settings = ToolsSettings(audit_log=tmp_path / "audit.jsonl", items=items, **fields)
    return dataclasses.replace(base, audio=audio, conversation=conversation, tools=tool_settings)


@dataclasses.dataclass
class Run:
    summary: RunSummary
    timeline: str
    seconds: float


def credentials(name: str) -> str:
    if name != "job-api-token":
        raise LookupError(f"credential '{name}' not found")
    return TOKEN


async def run_kiosk(
    settings: Settings, url: str, wrap: Callable[[RealtimeLink], Link] | None = None
) -> Run:
    """The daemon with the configured tool box and the canned prompts, until it is done."""

    async def connect() -> Link:
        link = await RealtimeLink.connect(url, settings.realtime.model, KEY, timeout_s=5)
        return link if wrap is None else wrap(link)

    assert isinstance(settings.audio.input, FileInput)
    assert isinstance(settings.audio.output, FileOutput)
    box = Toolbox.from_settings(
        settings.tools,
        credentials=credentials,
        audit_path=settings.tools.audit_log,
        device_name=settings.device.name,
        site=settings.device.site,
    )
    timeline = io.StringIO()
    daemon = Daemon(
        settings,
        mic=WavMic(settings.audio.input),
        speaker=WavSpeaker(settings.audio.output),
        connect=connect,
        toolbox=box,
        prompts=PromptLibrary.load(PROMPTS),
        options=RunOptions(exit_when_input_ends=True, drain_timeout_s=20),
        timeline=timeline,
    )
    start = time.monotonic()
    try:
        summary = await daemon.run()
    finally:
        await box.close()
    return Run(summary, timeline.getvalue(), time.monotonic() - start)


def audit(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]


def outputs(emu: Emulator) -> list[str]:
    """The function_call_output items the device sent to the model, in order."""
    return [
        e["item"]["output"]
        for e in emu.of_type("client", "conversation.item.create")
        if e["item"]["type"] == "function_call_output"
    ]


def timeline_at(timeline: str, text: str) -> float:
    """When (s from the start) the timeline's first line holding ``text`` was written."""
    for line in timeline.splitlines():
        if text in line:
            return float(line.split("s", 1)[0])
    raise AssertionError(f"no timeline line with {text!r}:\n{timeline}")


# -- 1. a working HTTP tool -----------------------------------------------------------------


@pytest.mark.slow
async def test_job_status_reaches_the_service_and_its_answer_is_spoken(
    tmp_path: Path, service: JobService
) -> None:
    scenario = Scenario.from_dict(
        {
            "turns": [
                {
                    "user": ASK_JOB,
                    "tool_call": {"name": "job_status", "arguments": {"job_id": "4172"}},
                    "reply": "The job system says: {output}",
                }
            ]
        }
    )
    settings = kiosk_settings(tmp_path, speech(tmp_path, "job-status.wav"), (job_status(service),))
    async with Emulator(scenario, on_event=validate) as emu:
        run = await run_kiosk(settings, emu.url)
    summary = run.summary
    # the service really got the request, with the credential
    assert [(s.method, s.path, s.authorized) for s in service.seen] == [("GET", "/jobs/4172", True)]
    # the model got the selected fields (and nothing else of the record)
    [output] = outputs(emu)
    assert json.loads(output) == {
        "status": "in progress",
        "eta": "14:30",
        "technician.name": "Sam Okafor",
    }
    assert "phone" not in output
    # ... and the caller heard them
    assert summary.user_transcripts == [ASK_JOB]
    [reply] = summary.assistant_transcripts
    assert reply == f"The job system says: {output}"
    assert "in progress" in reply and "14:30" in reply and "Sam Okafor" in reply
    [call] = summary.tool_calls
    assert call["name"] == "job_status" and call["ok"] is True
    assert call["arguments"] == {"job_id": "4172"} and call["action"] == "continue"
    assert summary.errors == []
    assert summary.reply_audio_ms > 1000
    # the model was told about the tool and how to use it
    [update] = emu.of_type("client", "session.update")
    assert [t["name"] for t in update["session"]["tools"]] == ["job_status"]
    assert update["session"]["tools"][0]["parameters"] == JOB_PARAMETERS
    assert "If a tool fails, tell the caller briefly" in update["session"]["instructions"]
    assert "tool   job_status(" in run.timeline and ") ok in " in run.timeline
    # the operator's record: one audit line with the time it took and its status
    [line] = audit(tmp_path)
    assert (line["tool"], line["status"], line["ok"]) == ("job_status", "ok", True)
    assert line["arguments"] == {"job_id": "4172"}
    assert line["conversation_id"] == "conv-1"
    assert line["ms"] > 0 and line["server_ms"] >= 0
    assert line["request"]["url"] == service.url + "/jobs/4172"
    assert TOKEN not in (tmp_path / "audit.jsonl").read_text()


# -- 2. HTTP failures -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Failure:
    mode: str = "ok"
    delay_ms: float = 0
    tool: dict[str, Any] = dataclasses.field(default_factory=dict)
    arguments: dict[str, str] = dataclasses.field(default_factory=lambda: {"job_id": "4172"})
    expected: str = ""
    status: str = "error"
    contacted: bool = True


BY_HOST_PARAMETERS: dict[str, object] = {
    "type": "object",
    "properties": {"host": {"type": "string"}, "job_id": {"type": "string"}},
    "required": ["host", "job_id"],
}

FAILURES = {
    "timeout": Failure(
        delay_ms=3000,
        tool={"timeout_s": 0.4},
        expected="did not answer within 0.4 s",
        status="timeout",
    ),
    "http-500": Failure(mode="500", expected="the service answered HTTP 500"),
    "http-404": Failure(arguments={"job_id": "9999"}, expected="HTTP 404 Not Found"),
    "huge": Failure(
        mode="huge", tool={"max_answer_bytes": 65536}, expected="larger than 65536 bytes"
    ),
    "not-json": Failure(mode="not_json", expected="the service's answer was not JSON"),
    "off-allowlist": Failure(
        tool={"parameters": BY_HOST_PARAMETERS, "url": "http://{host}:PORT/jobs/{job_id}"},
        arguments={"host": "localhost", "job_id": "4172"},  # loopback, but not allowed
        expected="host localhost is not on this device's allowlist",
        status="refused",
        contacted=False,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", FAILURES.values(), ids=FAILURES.keys())
async def test_a_failing_service_is_a_clear_failure_and_the_turn_is_still_answered(
    tmp_path: Path, service: JobService, case: Failure
) -> None:
    service.mode = case.mode
    service.delay_ms = case.delay_ms
    port = service.url.rsplit(":", 1)[1]
    changes = {k: v.replace("PORT", port) if k == "url" else v for k, v in case.tool.items()}
    scenario = Scenario.from_dict(
        {
            "turns": [
                {
                    "user": ASK_JOB,
                    "tool_call": {"name": "job_status", "arguments": case.arguments},
                    "reply": JOB_REPLY,
                }
            ]
        }
    )
    settings = kiosk_settings(
        tmp_path,
        speech(tmp_path, "job-status.wav"),
        (job_status(service, **changes),),
        slow_filler_ms=5000,
    )
    async with Emulator(scenario, on_event=validate) as emu:
        run = await run_kiosk(settings, emu.url)
    summary = run.summary
    # the model is told, in one line it can speak from, what failed and what to do
    [output] = outputs(emu)
    assert case.expected in output
    assert "not available right now" in output and "\n" not in output
    assert output.startswith("job_status ")
    [call] = summary.tool_calls
    assert call["ok"] is False and call["output"] == output
    assert "FAILED" in run.timeline
    # the conversation did not hang: the model answered the caller and the daemon came back
    # to listening, with no error of its own
    assert summary.assistant_transcripts == [UNAVAILABLE_REPLY]
    assert len(emu.of_type("client", "response.create")) == 1
    assert summary.errors == []
    assert "speaking -> listening" in run.timeline
    assert len(service.seen) == (1 if case.contacted else 0)
    [line] = audit(tmp_path)
    assert (line["status"], line["ok"]) == (case.status, False)
    assert case.expected in line["detail"]
    if case.status == "timeout":
        assert call["ms"] < 0.4 * 1000 + 500  # the tool's own limit, not the service's delay


# -- 3. bad arguments -----------------------------------------------------------------------


@pytest.mark.slow
async def test_bad_arguments_go_back_to_the_model_and_nothing_is_sent(
    tmp_path: Path, service: JobService
) -> None:
    scenario = Scenario.from_dict(
        {
            "turns": [
                {
                    "user": ASK_JOB,
                    "tool_call": {"name": "job_status", "arguments": {"job_id": "41a2"}},
                    "reply": [
                        {
                            "if_output_contains": "Invalid arguments",
                            "say": "Sorry, which job number was that?",
                        },
                        {"say": "{output}"},
                    ],
                }
            ]
        }
    )
    settings = kiosk_settings(tmp_path, speech(tmp_path, "job-status.wav"), (job_status(service),))
    async with Emulator(scenario, on_event=validate) as emu:
        run = await run_kiosk(settings, emu.url)
    [output] = outputs(emu)
    assert output.startswith("Invalid arguments for job_status: $.job_id: '41a2' does not match")
    assert "Ask the caller" in output
    assert run.summary.assistant_transcripts == ["Sorry, which job number was that?"]
    assert [c["ok"] for c in run.summary.tool_calls] == [False]
    assert service.seen == []
    [line] = audit(tmp_path)
    assert line["status"] == "invalid_arguments" and line["ok"] is False
    assert json.loads(line["arguments"]) == {"job_id": "41a2"}  # as the model wrote them
    assert "request" not in line
    assert run.summary.errors == []


# -- 4. spoken confirmation -----------------------------------------------------------------

CLOSE_ASK = "Please close job four one seven two."
READ_BACK = "Close job four one seven two. Is that right?"


def confirm_scenario(answer: str) -> Scenario:
    call = {"name": "close_job", "arguments": {"job_id": "4172"}}
    return Scenario.from_dict(
        {
            "turns": [
                # the model calls, is told to read back first, and reads back
                {"user": CLOSE_ASK, "tool_call": call, "reply": READ_BACK},
                # the caller answers; the model calls again with the same arguments
                {
                    "user": answer,
                    "tool_call": call,
                    "reply": [
                        {"if_output_contains": '"closed"', "say": "Done, job 4172 is closed."},
                        {"if_output_contains": "did not confirm", "say": "Okay, I left it open."},
                        {"say": "Something went wrong: {output}"},
                    ],
                },
            ]
        }
    )


@pytest.mark.slow
async def test_a_confirm_tool_runs_after_the_callers_spoken_yes(
    tmp_path: Path, service: JobService
) -> None:
    caller = speech(tmp_path, "job-status.wav", "question.wav")
    settings = kiosk_settings(tmp_path, caller, (close_job(service),), in_speed=4.0)
    async with Emulator(confirm_scenario("Yes, that's right."), on_event=validate) as emu:
        run = await run_kiosk(settings, emu.url)
    summary = run.summary
    assert summary.user_transcripts == [CLOSE_ASK, "Yes, that's right."]
    asked, done = outputs(emu)
    assert "needs the caller's spoken yes" in asked and "Read the details back" in asked
    assert json.loads(done) == {"status": "closed"}
    assert summary.assistant_transcripts == [READ_BACK, "Done, job 4172 is closed."]
    assert [(c["name"], c["ok"]) for c in summary.tool_calls] == [
        ("close_job", False),
        ("close_job", True),
    ]
    # the job was closed once, after the yes
    assert [(s.method, s.path) for s in service.seen] == [("POST", "/jobs/4172/close")]
    assert service.jobs["4172"]["status"] == "closed"
    assert [r["status"] for r in audit(tmp_path)] == ["needs_confirmation", "ok"]
    assert summary.errors == []


@pytest.mark.slow
async def test_a_confirm_tool_does_not_run_after_a_no(tmp_path: Path, service: JobService) -> None:
    caller = speech(tmp_path, "job-status.wav", "question.wav")
    settings = kiosk_settings(tmp_path, caller, (close_job(service),), in_speed=4.0)
    async with Emulator(confirm_scenario("No, that's not right."), on_event=validate) as emu:
        run = await run_kiosk(settings, emu.url)
    summary = run.summary
    asked, declined = outputs(emu)
    assert "needs the caller's spoken yes" in asked
    assert declined.startswith("The caller did not confirm, so close_job was not run.")
    assert summary.assistant_transcripts == [READ_BACK, "Okay, I left it open."]
    assert [c["ok"] for c in summary.tool_calls] == [False, False]
    assert service.seen == []
    assert service.jobs["4172"]["status"] == "in progress"
    assert [r["status"] for r in audit(tmp_path)] == ["needs_confirmation", "declined"]
    assert summary.errors == []


class LateTranscripts:
    """The real link, but the caller's transcripts arrive after the response they belong to.

    The real API transcribes the caller asynchronously: ``input_audio_transcription.completed``
    may come before or after the response events (device/realtime/events.py says so too).
    """

    def __init__(self, link: RealtimeLink) -> None:
        self._link = link
        self.close_code: int | None = None

    @property
    def malformed(self) -> int:
        return self._link.malformed

    async def send(self, command: LinkCommand) -> None:
        await self._link.send(command)

    async def close(self) -> None:
        await self._link.close()

    async def events(self) -> AsyncIterator[ServerEvent]:
        held: list[ServerEvent] = []
        async for event in self._link.events():
            if isinstance(event, InputTranscript):
                held.append(event)
                continue
            yield event
            if isinstance(event, ResponseDone):
                for late in held:
                    yield late
                held.clear()
        self.close_code = self._link.close_code


@pytest.mark.slow
async def test_a_confirm_tool_waits_for_the_transcript_of_the_callers_yes(
    tmp_path: Path, service: JobService
) -> None:
    """The yes counts even when its transcript arrives after the model's call (real API)."""
    caller = speech(tmp_path, "job-status.wav", "question.wav")
    settings = kiosk_settings(tmp_path, caller, (close_job(service),), in_speed=4.0)
    async with Emulator(confirm_scenario("Yes, that's right."), on_event=validate) as emu:
        run = await run_kiosk(settings, emu.url, wrap=LateTranscripts)
    assert run.summary.user_transcripts == [CLOSE_ASK, "Yes, that's right."]
    asked, done = outputs(emu)
    assert "needs the caller's spoken yes" in asked
    assert "needs the caller's spoken yes" not in done, "the yes was not heard: " + done
    assert json.loads(done) == {"status": "closed"}
    assert [(s.method, s.path) for s in service.seen] == [("POST", "/jobs/4172/close")]
    assert run.summary.assistant_transcripts[-1] == "Done, job 4172 is closed."


# -- 5. a slow tool: the filler prompt ------------------------------------------------------


@pytest.mark.slow
async def test_a_slow_tool_plays_the_filler_and_the_answer_still_arrives(
    tmp_path: Path, service: JobService
) -> None:
    service.delay_ms = 1200
    scenario = Scenario.from_dict(
        {
            "turns": [
                {
                    "user": ASK_JOB,
                    "tool_call": {"name": "job_status", "arguments": {"job_id": "4172"}},
                    "reply": [
                        {"if_output_contains": "in progress", "say": "It is in progress."},
                        {"say": UNAVAILABLE_REPLY},
                    ],
                }
            ]
        }
    )
    settings = kiosk_settings(
        tmp_path,
        speech(tmp_path, "job-status.wav"),
        (job_status(service, timeout_s=3.0),),
        out_speed=1.0,
        slow_filler_ms=700,
    )
    filler_pcm = PromptLibrary.load(PROMPTS).get("filler")
    assert filler_pcm is not None
    async with Emulator(scenario, on_event=validate) as emu:
        run = await run_kiosk(settings, emu.url)
    summary = run.summary
    [call] = summary.tool_calls
    assert call["ok"] is True and call["ms"] >= 1200
    # the caller heard "one moment" while the tool ran, then the answer
    assert summary.prompt_audio_ms == pytest.approx(len(filler_pcm) / 48, abs=1)
    assert "playing prompt 'filler'" in run.timeline
    called = timeline_at(run.timeline, "state  thinking -> tool")
    filler = timeline_at(run.timeline, "playing prompt 'filler'")
    done = timeline_at(run.timeline, "tool   job_status(")
    assert filler - called >= 0.68  # after slow_filler_ms (timeline: 10 ms steps)...
    assert filler < done  # ... while the tool was still running
    assert summary.assistant_transcripts == ["It is in progress."]
    pcm, _, _ = read_wav(tmp_path / "reply.wav")
    assert pcm.startswith(filler_pcm)  # played first, and all of it
    assert len(pcm) == pytest.approx(len(filler_pcm) + summary.reply_audio_ms * 48)
    assert summary.errors == []


async def test_a_fast_tool_plays_no_filler(tmp_path: Path, service: JobService) -> None:
    scenario = Scenario.from_dict(
        {
            "turns": [
                {
                    "user": ASK_JOB,
                    "tool_call": {"name": "job_status", "arguments": {"job_id": "4172"}},
                    "reply": "It is in progress.",
                }
            ]
        }
    )
    settings = kiosk_settings(tmp_path, speech(tmp_path, "job-status.wav"), (job_status(service),))
    async with Emulator(scenario, on_event=validate) as emu:
        run = await run_kiosk(settings, emu.url)
    assert run.summary.prompt_audio_ms == 0
    assert "filler" not in run.timeline
    assert run.summary.assistant_transcripts == ["It is in progress."]


# -- 6. end_session -------------------------------------------------------------------------


@pytest.mark.slow
async def test_end_session_plays_the_goodbye_and_hangs_up(
    tmp_path: Path, service: JobService
) -> None:
    scenario = Scenario.from_dict(
        {
            "turns": [
                {
                    "user": "Thank you, goodbye.",
                    "tool_call": {
                        "name": "end_session",
                        "arguments": {"reason": "the caller said goodbye"},
                    },
                    "reply": "This should never be said.",
                }
            ]
        }
    )
    # a long tail of silence: the daemon must stop because the conversation ended, not
    # because the caller's file ran out
    caller = speech(tmp_path, "thanks.wav")
    settings = kiosk_settings(tmp_path, caller, (EndSessionTool(),), out_speed=1.0)
    settings = dataclasses.replace(
        settings,
        audio=dataclasses.replace(
            settings.audio, input=FileInput(path=caller, speed=1.0, tail_silence_ms=30_000)
        ),
    )
    goodbye = PromptLibrary.load(PROMPTS).get("goodbye")
    assert goodbye is not None
    async with Emulator(scenario, on_event=validate) as emu:
        run = await run_kiosk(settings, emu.url)
    summary = run.summary
    assert [(c["name"], c["ok"], c["action"]) for c in summary.tool_calls] == [
        ("end_session", True, "end")
    ]
    # the model said no goodbye itself: the canned one played, all of it
    assert summary.prompt_audio_ms == pytest.approx(len(goodbye) / 48, abs=1)
    assert "playing prompt 'goodbye'" in run.timeline
    pcm, _, _ = read_wav(tmp_path / "reply.wav")
    assert pcm == goodbye
    # the model is not asked to go on after the end_session output
    assert outputs(emu) and len(emu.of_type("client", "response.create")) == 0
    assert summary.assistant_transcripts == []
    # hung up right after the goodbye finished playing (in real time)
    assert summary.conversations == 1
    [hangup] = summary.hangup_ms
    assert len(goodbye) / 48 <= hangup < 1500
    assert "conversation over: the caller said goodbye" in run.timeline
    # the daemon exited long before the 30 s of silence ran out
    assert run.seconds < 8
    assert summary.errors == []


# -- 7. escalate ----------------------------------------------------------------------------

HELP = "I need to talk to a person."
HANDOVER_SUMMARY = "Visitor wants to talk to a member of staff about job 4172."


def escalate_scenario() -> Scenario:
    return Scenario.from_dict(
        {
            "turns": [
                {
                    "user": HELP,
                    "tool_call": {"name": "escalate", "arguments": {"summary": HANDOVER_SUMMARY}},
                    "reply": "I will stay with you until they arrive.",
                }
            ]
        }
    )


def escalate(service: JobService, then: Literal["hold", "end"]) -> EscalateTool:
    return EscalateTool(webhook_url=service.url + "/handover", headers=AUTH, then=then)


def expected_handover() -> dict[str, Any]:
    return {
        "device": "demo-kiosk",
        "site": "the developer's laptop",
        "conversation_id": "conv-1",
        "summary": HANDOVER_SUMMARY,
        "transcript": [{"role": "user", "text": HELP}],
    }


@pytest.mark.slow
async def test_escalate_then_end_calls_staff_plays_the_handover_and_hangs_up(
    tmp_path: Path, service: JobService
) -> None:
    # real-time playback: the hang-up must wait for the whole hand-over prompt (~4 s)
    settings = kiosk_settings(
        tmp_path, speech(tmp_path, "question.wav"), (escalate(service, "end"),), out_speed=1.0
    )
    handover = PromptLibrary.load(PROMPTS).get("handover")
    assert handover is not None
    async with Emulator(escalate_scenario(), on_event=validate) as emu:
        run = await run_kiosk(settings, emu.url)
    summary = run.summary
    assert service.handovers == [expected_handover()]
    assert [(s.method, s.path, s.authorized) for s in service.seen] == [("POST", "/handover", True)]
    [hangup] = summary.hangup_ms
    assert len(handover) / 48 <= hangup < len(handover) / 48 + 1000
    assert summary.handovers == 1
    assert "handover  a human was called" in run.timeline
    assert summary.prompt_audio_ms == pytest.approx(len(handover) / 48, abs=1)
    assert read_wav(tmp_path / "reply.wav")[0] == handover
    [output] = outputs(emu)
    assert output.startswith("Staff have been called.")
    assert len(emu.of_type("client", "response.create")) == 0
    assert summary.assistant_transcripts == []
    assert summary.conversations == 1
    assert "conversation over: handed over to a human" in run.timeline
    assert [r["status"] for r in audit(tmp_path)] == ["ok"]
    assert audit(tmp_path)[0]["action"] == "handover_end"
    assert summary.errors == []


@pytest.mark.slow
async def test_escalate_then_hold_stays_in_the_handover_until_the_idle_timeout(
    tmp_path: Path, service: JobService
) -> None:
    idle_s = 1.5
    settings = kiosk_settings(
        tmp_path,
        speech(tmp_path, "question.wav"),
        (escalate(service, "hold"),),
        idle_timeout_s=idle_s,
    )
    handover = PromptLibrary.load(PROMPTS).get("handover")
    assert handover is not None
    async with Emulator(escalate_scenario(), on_event=validate) as emu:
        run = await run_kiosk(settings, emu.url)
    summary = run.summary
    assert service.handovers == [expected_handover()]
    assert summary.handovers == 1
    assert summary.prompt_audio_ms == pytest.approx(len(handover) / 48, abs=1)
    # the model goes on (it was told the caller heard the hand-over prompt)
    [output] = outputs(emu)
    assert "do not repeat it" in output
    assert len(emu.of_type("client", "response.create")) == 1
    assert summary.assistant_transcripts == ["I will stay with you until they arrive."]
    # then the kiosk holds the hand-over (no listening) until nobody has spoken for a while
    assert "state  speaking -> handover" in run.timeline
    assert "-> listening" not in run.timeline.split("speaking -> handover", 1)[1]
    held = timeline_at(run.timeline, "speaking -> handover")
    ended = timeline_at(run.timeline, "conversation over: nobody spoke")
    assert idle_s - 0.05 <= ended - held < idle_s + 1.0
    assert "state  handover -> idle" in run.timeline
    assert summary.conversations == 1 and summary.hangup_ms == []
    assert summary.errors == []


@pytest.mark.slow
async def test_a_failed_handover_is_no_handover_and_the_conversation_goes_on(
    tmp_path: Path, service: JobService
) -> None:
    service.mode = "500"
    scenario = Scenario.from_dict(
        {
            "turns": [
                {
                    "user": HELP,
                    "tool_call": {"name": "escalate", "arguments": {"summary": HANDOVER_SUMMARY}},
                    "reply": [
                        {
                            "if_output_contains": "hand-over failed",
                            "say": "Sorry, I could not reach anyone. Please ask at the desk.",
                        },
                        {"say": "Someone is on the way."},
                    ],
                }
            ]
        }
    )
    settings = kiosk_settings(
        tmp_path, speech(tmp_path, "question.wav"), (escalate(service, "end"),)
    )
    async with Emulator(scenario, on_event=validate) as emu:
        run = await run_kiosk(settings, emu.url)
    summary = run.summary
    assert len(service.seen) == 1  # the webhook was tried...
    [output] = outputs(emu)
    assert "The hand-over failed" in output and "HTTP 500" in output
    # ... but nobody was called: no hand-over prompt, no hand-over, no hang-up
    assert summary.handovers == 0 and summary.prompt_audio_ms == 0
    assert [(c["ok"], c["action"]) for c in summary.tool_calls] == [(False, "continue")]
    assert summary.assistant_transcripts == [
        "Sorry, I could not reach anyone. Please ask at the desk."
    ]
    assert "speaking -> listening" in run.timeline
    assert "-> handover" not in run.timeline and "a human was called" not in run.timeline
    assert summary.hangup_ms == []
    assert [r["status"] for r in audit(tmp_path)] == ["error"]
