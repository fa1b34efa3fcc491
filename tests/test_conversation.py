"""Table-driven tests of the pure conversation engine: every transition, no I/O, fake time."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from device.conversation import (
    IDLE_TIMER,
    MAX_TIMER,
    SETUP_TIMER,
    SLOW_PREFIX,
    STALL_TIMER,
    TRANSCRIPT_TIMER,
    AwaitPlayback,
    CancelTimer,
    Connect,
    Conversation,
    ConversationPolicy,
    DeviceHealth,
    Disconnect,
    Event,
    HoldUpload,
    InterruptRequested,
    LinkLost,
    PlaybackIdle,
    PlaybackStopped,
    PlayPrompt,
    Report,
    RunTool,
    Send,
    SessionReady,
    SetTimer,
    StartRequested,
    State,
    StopPlayback,
    StopRequested,
    TalkEnded,
    TalkStarted,
    TimerFired,
    ToolFinished,
    Upload,
)
from device.conversation.reports import (
    AudioDeviceChanged,
    ConversationEnded,
    ErrorReported,
    FirstAudio,
    HandedOver,
    Interrupted,
    Note,
    Outcome,
    StateChanged,
    ToolReported,
)
from device.realtime.commands import (
    CancelReply,
    ClearInput,
    CommitInput,
    RequestReply,
    SendToolOutput,
    Truncate,
    UpdateSession,
)
from device.realtime.events import (
    AudioDelta,
    ErrorKind,
    FunctionCallDone,
    Ignored,
    InputTranscript,
    InputTranscriptFailed,
    ResponseCreated,
    ResponseDone,
    ServerError,
    SessionCreated,
    SessionUpdated,
    Severity,
    SpeechStarted,
    SpeechStopped,
    TranscriptDone,
    Usage,
)
from device.realtime.settings import NoTurnDetection
from device.tools.base import ToolAction
from tests.helpers.engine import (
    CALL,
    CALLER_ASKS,
    OPEN,
    PCM,
    Step,
    acts,
    brief,
    policy,
    reports,
    run,
    sent,
    speaking,
    tool_result,
)


def test_question_and_answer_returns_to_listening() -> None:
    conv = Conversation(policy())
    steps = [
        *OPEN,
        *CALLER_ASKS,
        Step(
            AudioDelta("resp_1", "item_a1", 0, PCM),
            State.SPEAKING,
            [f"cancel {IDLE_TIMER}", "play item_a1"],
            2950,
        ),
        Step(
            AudioDelta("resp_1", "item_a1", 0, PCM),
            State.SPEAKING,
            [f"cancel {IDLE_TIMER}", "play item_a1"],
            2960,
        ),
        Step(TranscriptDone("resp_1", "item_a1", "We open at nine."), State.SPEAKING, [], 3000),
        Step(
            ResponseDone("resp_1", "completed", usage=Usage(10, 20)),
            State.SPEAKING,
            ["awaitplayback"],
            3000,
        ),
        Step(PlaybackIdle(), State.LISTENING, [f"set {IDLE_TIMER}"], 5000),
    ]
    outs = run(conv, steps)
    assert reports(outs[7], FirstAudio) == [FirstAudio(450.0)]
    assert reports(outs[8], FirstAudio) == []  # once per turn
    assert conv.transcript == [("user", "what are your hours"), ("assistant", "We open at nine.")]
    assert conv.turns == 1


def test_nobody_speaks_ends_the_conversation_and_closes_the_session() -> None:
    conv = Conversation(policy())
    run(
        conv,
        [
            *OPEN,
            Step(
                TimerFired(IDLE_TIMER),
                State.IDLE,
                ["upload off", f"cancel {IDLE_TIMER}", f"cancel {MAX_TIMER}", "disconnect"],
            ),
        ],
    )


def test_maximum_duration_ends_even_a_busy_conversation() -> None:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)
    out = conv.handle(TimerFired(MAX_TIMER), 600_000)
    assert conv.state is State.IDLE
    assert Disconnect() in out
    assert reports(out, ConversationEnded) == [
        ConversationEnded("maximum conversation length reached", None, Outcome.TIMED_OUT)
    ]


def test_start_while_active_is_ignored_and_a_new_conversation_forgets_the_old() -> None:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)
    assert conv.handle(StartRequested("button"), 3000) == []
    conv.handle(StopRequested("test"), 3100)
    assert conv.state is State.IDLE
    first = conv.conversation_id
    run(conv, OPEN)
    assert conv.conversation_id != first
    assert conv.transcript == []


def test_tool_call_after_response_done_sends_output_then_one_response_create() -> None:
    conv = Conversation(policy())
    steps = [
        *OPEN,
        *CALLER_ASKS,
        Step(
            CALL, State.TOOL, [f"cancel {IDLE_TIMER}", "run job_status", f"set {SLOW_PREFIX}call_1"]
        ),
        Step(ResponseDone("resp_1", "completed"), State.TOOL, []),
        Step(
            ToolFinished("call_1", tool_result()),
            State.THINKING,
            [
                f"cancel {SLOW_PREFIX}call_1",
                "send SendToolOutput",
                "send RequestReply",
            ],
        ),
    ]
    outs = run(conv, steps)
    tool = reports(outs[-1], ToolReported)[0]
    assert tool.name == "job_status" and tool.ok and tool.arguments == '{"job": "4172"}'
    sent = next(c.command for c in outs[-1] if isinstance(c, Send))
    assert isinstance(sent, SendToolOutput)
    assert (sent.call_id, sent.output) == ("call_1", '{"status": "done"}')


def test_tool_finishing_before_response_done_waits_for_it_never_two_active_responses() -> None:
    conv = Conversation(policy())
    steps = [
        *OPEN,
        *CALLER_ASKS,
        Step(
            CALL, State.TOOL, [f"cancel {IDLE_TIMER}", "run job_status", f"set {SLOW_PREFIX}call_1"]
        ),
        Step(
            ToolFinished("call_1", tool_result()),
            State.THINKING,
            [f"cancel {SLOW_PREFIX}call_1", "send SendToolOutput"],
        ),
        Step(ResponseDone("resp_1", "completed"), State.THINKING, ["send RequestReply"]),
    ]
    run(conv, steps)


def test_two_calls_in_one_response_answer_both_before_asking_for_more() -> None:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)
    conv.handle(CALL, 2800)
    conv.handle(FunctionCallDone("resp_1", "item_f2", "call_2", "faq", "{}"), 2800)
    conv.handle(ResponseDone("resp_1", "completed"), 2900)
    first = acts(conv.handle(ToolFinished("call_1", tool_result()), 3000))
    assert "send RequestReply" not in first
    second = acts(conv.handle(ToolFinished("call_2", tool_result()), 3100))
    assert second[-1] == "send RequestReply"


def test_slow_tool_plays_the_filler_once_and_a_fast_one_does_not() -> None:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)
    conv.handle(CALL, 2800)
    assert [brief(c) for c in conv.handle(TimerFired(SLOW_PREFIX + "call_1"), 3500)] == [
        "prompt filler"
    ]
    conv.handle(ToolFinished("call_1", tool_result()), 3600)
    # a timer that fires late for a finished tool says nothing
    assert conv.handle(TimerFired(SLOW_PREFIX + "call_1"), 3700) == []


def test_end_session_hangs_up_after_the_goodbye_has_played() -> None:
    conv = Conversation(policy())
    steps = [
        *OPEN,
        *CALLER_ASKS,
        Step(
            AudioDelta("resp_1", "item_a1", 0, PCM),
            State.SPEAKING,
            [f"cancel {IDLE_TIMER}", "play item_a1"],
        ),
        Step(
            CALL, State.TOOL, [f"cancel {IDLE_TIMER}", "run job_status", f"set {SLOW_PREFIX}call_1"]
        ),
        Step(
            ToolFinished("call_1", tool_result(ToolAction.END)),
            State.SPEAKING,
            [f"cancel {SLOW_PREFIX}call_1", "send SendToolOutput"],
        ),
        Step(ResponseDone("resp_1", "completed"), State.SPEAKING, ["awaitplayback"]),
        Step(
            PlaybackIdle(),
            State.IDLE,
            ["upload off", f"cancel {IDLE_TIMER}", f"cancel {MAX_TIMER}", "disconnect"],
        ),
    ]
    outs = run(conv, steps)
    # the model said goodbye in the same response: no canned goodbye on top of it
    assert reports(outs[-1], ConversationEnded) == [
        ConversationEnded("the caller said goodbye", 0.0, Outcome.GOODBYE)
    ]


@pytest.mark.parametrize(
    ("model_spoke", "expected"),
    [(True, []), (False, ["prompt goodbye"])],
    ids=["model-said-goodbye", "silent-call"],
)
def test_end_session_plays_the_canned_goodbye_only_when_the_model_said_none(
    model_spoke: bool, expected: list[str]
) -> None:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)
    if model_spoke:
        conv.handle(AudioDelta("resp_1", "item_a1", 0, PCM), 2700)
    conv.handle(CALL, 2800)
    done = conv.handle(ToolFinished("call_1", tool_result(ToolAction.END, "goodbye")), 2810)
    assert [b for b in map(brief, done) if b.startswith("prompt")] == expected
    conv.handle(ResponseDone("resp_1", "completed"), 2900)
    end = conv.handle(PlaybackIdle(), 4000)
    assert conv.state is State.IDLE
    # the hang-up is timed from the model's call: the budget is 1.5 s
    assert reports(end, ConversationEnded) == [
        ConversationEnded("the caller said goodbye", 1200.0, Outcome.GOODBYE)
    ]


def test_end_session_after_response_done_waits_only_for_playback() -> None:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)
    conv.handle(CALL, 2800)
    conv.handle(ResponseDone("resp_1", "completed"), 2900)
    out = [brief(c) for c in conv.handle(ToolFinished("call_1", tool_result(ToolAction.END)), 3000)]
    assert out[-1] == "awaitplayback" and "send RequestReply" not in out


def test_handover_hold_plays_the_line_keeps_talking_and_shows_handover() -> None:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)
    conv.handle(CALL, 2800)
    conv.handle(ResponseDone("resp_1", "completed"), 2900)
    out = conv.handle(
        ToolFinished("call_1", tool_result(ToolAction.HANDOVER_HOLD, "handover")), 3000
    )
    assert [brief(c) for c in out if not isinstance(c, Report)][-2:] == [
        "prompt handover",
        "send RequestReply",
    ]
    assert reports(out, HandedOver) == [HandedOver("job_status")]
    conv.handle(ResponseCreated("resp_2"), 3100)
    conv.handle(AudioDelta("resp_2", "item_a2", 0, PCM), 3200)
    conv.handle(ResponseDone("resp_2", "completed"), 3300)
    conv.handle(PlaybackIdle(), 4000)
    assert conv.state is State.HANDOVER
    conv.handle(TimerFired(IDLE_TIMER), 30_000)
    assert conv.state is State.IDLE


def test_handover_end_hangs_up_without_asking_the_model_again() -> None:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)
    conv.handle(CALL, 2800)
    conv.handle(ResponseDone("resp_1", "completed"), 2900)
    out = conv.handle(
        ToolFinished("call_1", tool_result(ToolAction.HANDOVER_END, "handover")), 3000
    )
    assert "send RequestReply" not in [brief(c) for c in out]
    conv.handle(PlaybackIdle(), 5000)
    assert conv.state is State.IDLE


def test_tool_context_carries_the_transcript_so_far() -> None:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)
    out = conv.handle(CALL, 2800)
    run_tool = next(c for c in out if isinstance(c, RunTool))
    assert run_tool.context.transcript == (("user", "what are your hours"),)
    assert run_tool.context.last_user_text == "what are your hours"
    assert run_tool.context.conversation_id == conv.conversation_id


@pytest.mark.parametrize(
    ("code", "kind", "severity", "state", "disconnects"),
    [
        (
            "response_cancel_not_active",
            ErrorKind.NOTHING_TO_CANCEL,
            "harmless",
            State.THINKING,
            False,
        ),
        (
            "input_audio_buffer_commit_empty",
            ErrorKind.EMPTY_COMMIT,
            "harmless",
            State.THINKING,
            False,
        ),
        ("session_expired", ErrorKind.SESSION_ENDED, "session", State.RECONNECTING, True),
        ("invalid_api_key", ErrorKind.AUTH, "fatal", State.ERROR, True),
    ],
)
def test_error_events_by_severity(
    code: str, kind: ErrorKind, severity: str, state: State, disconnects: bool
) -> None:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)
    out = conv.handle(ServerError(kind, Severity(severity), code, "details"), 3000)
    assert conv.state is state
    assert (Disconnect() in out) is disconnects
    assert reports(out, ErrorReported) == [ErrorReported(code, "details")]


def busy_error(event_id: str | None) -> ServerError:
    return ServerError(
        ErrorKind.REPLY_BUSY,
        Severity.HARMLESS,
        "conversation_already_has_active_response",
        "busy",
        client_event_id=event_id,
    )


def test_every_command_sent_carries_a_fresh_event_id() -> None:
    conv = Conversation(policy())
    outs = run(conv, OPEN + CALLER_ASKS)
    conv.handle(CALL, 2800)
    conv.handle(ResponseDone("resp_1", "completed"), 2900)
    outs.append(conv.handle(ToolFinished("call_1", tool_result()), 3000))
    ids = [c.command.event_id for out in outs for c in out if isinstance(c, Send)]
    assert len(ids) == 3 and all(ids) and len(set(ids)) == 3


def test_active_response_error_naming_our_request_requeues_it_until_done() -> None:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)
    conv.handle(CALL, 2800)
    conv.handle(ResponseDone("resp_1", "completed"), 2900)
    out = conv.handle(ToolFinished("call_1", tool_result()), 3000)
    [ours] = sent(out, RequestReply)
    # the server had started a response of its own meanwhile and refuses ours
    conv.handle(ResponseCreated("resp_srv"), 3010)
    conv.handle(busy_error(ours.event_id), 3020)
    done = acts(conv.handle(ResponseDone("resp_srv", "completed"), 3500))
    assert done == ["send RequestReply"]


@pytest.mark.parametrize("names", [None, "evt_not_ours"], ids=["names-nothing", "names-other"])
def test_a_stray_active_response_error_during_a_tool_changes_nothing_sent(
    names: str | None,
) -> None:
    """Exactly one reply request, after the tool's output: the model must not answer twice."""
    conv = Conversation(policy())
    outs = run(conv, OPEN + CALLER_ASKS)
    outs.append(conv.handle(CALL, 2800))
    outs.append(conv.handle(busy_error(names), 2850))  # nothing of ours is in flight
    outs.append(conv.handle(ResponseDone("resp_1", "completed"), 2900))
    outs.append(conv.handle(ToolFinished("call_1", tool_result()), 3000))
    outs.append(conv.handle(ResponseCreated("resp_2"), 3100))
    outs.append(conv.handle(ResponseDone("resp_2", "completed"), 3500))
    wire = [type(c.command).__name__ for out in outs for c in out if isinstance(c, Send)]
    assert wire == ["UpdateSession", "SendToolOutput", "RequestReply"]
    assert reports(outs[-5], ErrorReported)[0].code == "conversation_already_has_active_response"


def test_link_lost_mid_conversation_goes_offline_and_late_audio_is_dropped() -> None:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)
    out = conv.handle(LinkLost("connection reset"), 3000)
    assert conv.state is State.OFFLINE
    assert Upload(False) in out
    assert conv.handle(AudioDelta("resp_1", "item_a1", 0, PCM), 3100) == []
    # the next caller can start again
    assert any(isinstance(c, Connect) for c in conv.handle(StartRequested("button"), 9000))


def test_failed_response_is_reported_and_the_caller_can_go_on() -> None:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)
    out = conv.handle(ResponseDone("resp_1", "failed", reason="server_error"), 3000)
    assert reports(out, ErrorReported) == [ErrorReported("response_failed", "server_error")]
    conv.handle(PlaybackIdle(), 3100)
    assert conv.state is State.LISTENING


def test_unknown_events_and_events_while_idle_change_nothing() -> None:
    conv = Conversation(policy())
    events: list[Event] = [
        Ignored("rate_limits.updated"),
        SessionUpdated("s"),
        AudioDelta("r", "i", 0, PCM),
        PlaybackIdle(),
        TimerFired(IDLE_TIMER),
        ToolFinished("nope", tool_result()),
    ]
    for event in events:
        assert [c for c in conv.handle(event, 0) if not isinstance(c, Report)] == []
        assert conv.state is State.IDLE


LOST = DeviceHealth(False, "microphone 'USB' not found: retrying every 3 s")
BACK = DeviceHealth(True, "microphone 'USB' is back")


def test_a_lost_microphone_ends_the_conversation_in_the_error_state() -> None:
    conv = Conversation(policy())
    run(conv, OPEN)
    out = conv.handle(LOST, 10)
    assert reports(out, AudioDeviceChanged)[0].ok is False
    assert [b for b in map(brief, out) if b.startswith(("prompt", "disconnect"))] == [
        "prompt error",
        "disconnect",
    ]
    assert conv.state is State.ERROR
    # nobody can be heard: no conversation starts until the microphone is back
    out = conv.handle(StartRequested("button"), 20)
    assert [c for c in out if not isinstance(c, Report)] == [] and conv.state is State.ERROR
    assert "not starting" in reports(out, Note)[0].text
    conv.handle(BACK, 30)
    assert conv.state is State.IDLE
    assert "connect" in map(brief, conv.handle(StartRequested("button"), 40))


def test_a_lost_microphone_while_idle_is_the_error_state_until_it_returns() -> None:
    conv = Conversation(policy())
    conv.handle(LOST, 0)
    assert conv.state is State.ERROR
    conv.handle(LOST, 3000)  # still missing at the next retry: nothing new
    assert conv.state is State.ERROR
    conv.handle(BACK, 6000)
    assert conv.state is State.IDLE
    conv.handle(BACK, 6001)  # a second "back" changes nothing
    assert conv.state is State.IDLE


def test_every_state_change_is_reported_once() -> None:
    conv = Conversation(policy())
    outs = run(conv, OPEN + CALLER_ASKS)
    changes = [r for out in outs for r in reports(out, StateChanged)]
    assert changes == [
        StateChanged(State.IDLE, State.CONNECTING),
        StateChanged(State.CONNECTING, State.LISTENING),
        StateChanged(State.LISTENING, State.THINKING),
    ]


def test_await_playback_is_requested_after_a_cancelled_response() -> None:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)
    conv.handle(AudioDelta("resp_1", "item_a1", 0, PCM), 2800)
    out = conv.handle(ResponseDone("resp_1", "cancelled", reason="turn_detected"), 2900)
    assert AwaitPlayback() in out


def confirm_policy() -> ConversationPolicy:
    return dataclasses.replace(policy(), confirm_tools=frozenset({"close_job"}))


CONFIRM_CALL = FunctionCallDone("resp_1", "item_f1", "call_1", "close_job", '{"job": "4172"}')
SAID_YES = [
    Step(
        SpeechStarted("item_u1", 1000), State.LISTENING, ["hold on", f"cancel {IDLE_TIMER}"], 1000
    ),
    Step(SpeechStopped("item_u1", 2500), State.THINKING, ["hold off"], 2500),
]


def test_a_confirm_tool_waits_for_the_callers_words_before_it_runs() -> None:
    """The yes is read from the transcript, which may come after the model's call."""
    conv = Conversation(confirm_policy())
    steps = [
        *OPEN,
        *SAID_YES,
        Step(
            CONFIRM_CALL,
            State.TOOL,
            [f"cancel {IDLE_TIMER}", f"set {TRANSCRIPT_TIMER}", f"set {SLOW_PREFIX}call_1"],
            2700,
        ),
        Step(
            InputTranscript("item_u1", "yes, that's right"),
            State.TOOL,
            [f"cancel {TRANSCRIPT_TIMER}", "run close_job"],
            2900,
        ),
    ]
    outs = run(conv, steps)
    run_tool = next(c for c in outs[-1] if isinstance(c, RunTool))
    assert run_tool.context.transcript[-1] == ("user", "yes, that's right")


@pytest.mark.parametrize(
    "words_missing",
    [
        InputTranscriptFailed("item_u1", "Audio is unintelligible"),
        TimerFired(TRANSCRIPT_TIMER),
    ],
    ids=["transcription-failed", "never-came"],
)
def test_a_confirm_tool_runs_without_the_words_when_they_cannot_come(words_missing: Any) -> None:
    conv = Conversation(confirm_policy())
    run(conv, OPEN + SAID_YES)
    conv.handle(CONFIRM_CALL, 2700)
    out = [brief(c) for c in conv.handle(words_missing, 4700)]
    assert "run close_job" in out


def test_other_tools_and_known_words_do_not_wait() -> None:
    conv = Conversation(confirm_policy())
    run(conv, OPEN + CALLER_ASKS)  # the transcript already came
    assert "run close_job" in map(brief, conv.handle(CONFIRM_CALL, 2800))
    conv = Conversation(confirm_policy())
    run(conv, OPEN + SAID_YES)
    assert "run job_status" in map(brief, conv.handle(CALL, 2800))


def test_the_callers_turn_is_open_from_speech_started_to_speech_stopped() -> None:
    """While it is open the device uploads even what its noise gate would hold back."""
    conv = Conversation(policy())
    run(conv, OPEN)
    assert not conv.caller_turn_open
    conv.handle(SpeechStarted("item_u1", 1000), 1000)
    assert conv.caller_turn_open
    conv.handle(SpeechStopped("item_u1", 2500), 2500)
    assert not conv.caller_turn_open
    conv.handle(SpeechStarted("item_u2", 4000), 4000)
    conv.handle(StopRequested("button"), 4100)  # the conversation ends mid-turn
    assert not conv.caller_turn_open


def test_two_visitors_back_to_back_share_nothing() -> None:
    """One visitor, one object: nothing of the first is visible to the second."""
    conv = Conversation(confirm_policy())
    run(conv, OPEN + CALLER_ASKS)
    conv.handle(AudioDelta("resp_1", "item_a1", 0, PCM), 2750)
    conv.handle(TranscriptDone("resp_1", "item_a1", "We open at nine."), 2760)
    conv.handle(SpeechStarted("item_u2", 3000), 3000)
    conv.handle(SpeechStopped("item_u2", 3500), 3500)  # words not transcribed yet
    conv.handle(CONFIRM_CALL, 3600)  # held, waiting for the words
    conv.handle(CALL, 3610)  # running
    first = conv.visitor
    assert first.transcript and first.pending_tools and first.held and first.sent
    conv.handle(StopRequested("walked away"), 4000)

    run(conv, OPEN)
    second = conv.visitor
    assert second is not first and second.conversation_id != first.conversation_id
    assert conv.transcript == [] and conv.turns == 0
    assert conv.context().transcript == ()
    assert not (second.pending_tools or second.held or second.untranscribed)
    assert not (second.spoken_responses or second.call_response or second.dropped_responses)
    assert list(second.sent) != list(first.sent)[: len(second.sent)]  # fresh event ids
    assert not second.gate.busy and not second.gate.pending
    # the first visitor's tool finishing late, or its words arriving late, change nothing
    assert acts(conv.handle(ToolFinished("call_1", tool_result()), 5000)) == []
    conv.handle(InputTranscript("item_u2", "yes close it"), 5001)
    assert conv.transcript == []


def test_a_button_press_while_speaking_stops_truncates_at_what_was_heard_and_cancels() -> None:
    conv = Conversation(policy())
    speaking(conv)
    out = conv.handle(InterruptRequested("button"), 3000)
    assert [c for c in out if isinstance(c, StopPlayback)] == [
        StopPlayback("button", ("item_a1",), device_initiated=True)
    ]
    assert conv.state is State.LISTENING
    out = conv.handle(PlaybackStopped("button", (("item_a1", 412.7),)), 3001)
    wire = sent(out, Truncate) + sent(out, CancelReply)
    assert [(type(c).__name__, getattr(c, "audio_end_ms", None)) for c in wire] == [
        ("Truncate", 412),
        ("CancelReply", None),
    ]
    # the timeline says how long the speaker took to fall silent (1 ms on this clock)
    assert reports(out, Interrupted) == [Interrupted("button", 1, "item_a1", 412, 1.0)]
    # late deltas of the interrupted reply are not played
    assert acts(conv.handle(AudioDelta("resp_1", "item_a1", 0, PCM), 3010)) == []


def test_the_servers_barge_in_truncates_and_leaves_the_cancel_to_the_server() -> None:
    conv = Conversation(policy())
    speaking(conv)
    out = conv.handle(SpeechStarted("item_u2", 3000), 3000)
    assert StopPlayback("the caller (server)", ("item_a1",), device_initiated=False) in out
    out = conv.handle(PlaybackStopped("the caller (server)", (("item_a1", 200.0),), False), 3001)
    assert [c.audio_end_ms for c in sent(out, Truncate)] == [200]
    assert sent(out, CancelReply) == []  # interrupt_response: the server cancels it itself


@pytest.mark.parametrize(
    ("heard", "truncated"),
    [(0.0, False), (1000.0, False), (999.0, True)],
    ids=["nothing-heard", "all-played", "almost-all"],
)
def test_truncate_is_skipped_when_nothing_or_everything_was_heard(
    heard: float, truncated: bool
) -> None:
    conv = Conversation(policy())
    speaking(conv)
    conv.handle(InterruptRequested("wake word"), 3000)
    out = conv.handle(PlaybackStopped("wake word", (("item_a1", heard),)), 3001)
    assert bool(sent(out, Truncate)) is truncated


def test_an_interrupt_while_not_speaking_changes_nothing() -> None:
    conv = Conversation(policy())
    run(conv, OPEN)
    assert acts(conv.handle(InterruptRequested("button"), 100)) == []
    assert conv.state is State.LISTENING


def test_a_server_that_never_sets_up_the_session_is_given_up_at_the_deadline() -> None:
    conv = Conversation(policy())
    out = conv.handle(StartRequested("button"), 0)
    assert SetTimer(SETUP_TIMER, 10_000.0) in out
    conv.handle(SessionCreated("sess_1"), 50)  # ...but session.updated never comes
    out = conv.handle(TimerFired(SETUP_TIMER), 10_000)
    assert conv.state is State.OFFLINE and Disconnect() in out
    assert reports(out, ErrorReported)[0].code == "session_setup"


def test_the_setup_deadline_is_cancelled_once_the_session_is_ready() -> None:
    conv = Conversation(policy())
    run(conv, OPEN)
    assert conv.handle(TimerFired(SETUP_TIMER), 10_000) == []
    assert conv.state is State.LISTENING


def test_a_reply_that_goes_silent_is_abandoned_with_a_prompt_and_the_caller_heard_again() -> None:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)  # resp_1 created at 2700
    out = conv.handle(AudioDelta("resp_1", "item_a1", 0, PCM), 2800)
    assert SetTimer(STALL_TIMER, 5000.0) in out  # every sign of life moves the deadline
    out = conv.handle(TimerFired(STALL_TIMER), 7800)
    assert reports(out, ErrorReported)[0].code == "reply_stalled"
    assert sent(out, CancelReply) and PlayPrompt("error") in out and AwaitPlayback() in out
    conv.handle(PlaybackIdle(), 9000)
    assert conv.state is State.LISTENING
    # the abandoned reply's late audio is not played; the next request may go out
    assert acts(conv.handle(AudioDelta("resp_1", "item_a1", 0, PCM), 9100)) == []
    assert not conv.visitor.gate.busy


def test_a_reply_that_finishes_cancels_its_stall_deadline() -> None:
    conv = Conversation(policy())
    run(conv, OPEN + CALLER_ASKS)
    out = conv.handle(ResponseDone("resp_1", "completed"), 3000)
    assert CancelTimer(STALL_TIMER) in out
    assert conv.handle(TimerFired(STALL_TIMER), 8000) == []


def test_push_to_talk_turns_off_server_turn_detection_while_held_and_commits_on_release() -> None:
    conv = Conversation(policy())
    out = conv.handle(TalkStarted(), 0)  # no conversation yet: it starts first
    assert any(isinstance(c, Connect) for c in out)
    conv.handle(SessionReady(), 50)
    wire = [c.command for c in conv.handle(TalkEnded(commit=True), 1500) if isinstance(c, Send)]
    assert [type(c).__name__ for c in wire] == [
        "CommitInput",
        "RequestReply",
        "UpdateSession",
    ]
    restored = wire[-1]
    assert isinstance(restored, UpdateSession) and restored.spec.turn_detection is None
    assert conv.state is State.THINKING and conv.turns == 1


def test_a_held_turn_asks_the_server_not_to_end_it_on_a_pause() -> None:
    conv = Conversation(policy())
    run(conv, OPEN)
    out = conv.handle(TalkStarted(), 100)
    [update] = sent(out, UpdateSession)
    assert isinstance(update.spec.turn_detection, NoTurnDetection)
    assert HoldUpload(True) in out  # everything heard goes up while held


def test_a_release_too_short_to_hold_speech_commits_nothing_and_says_nothing() -> None:
    conv = Conversation(policy())
    run(conv, OPEN)
    conv.handle(TalkStarted(), 100)
    out = conv.handle(TalkEnded(commit=False), 150)
    assert sent(out, CommitInput) == [] and sent(out, RequestReply) == []
    assert len(sent(out, ClearInput)) == 1 and conv.state is State.LISTENING


def test_a_press_while_speaking_interrupts_then_takes_the_turn() -> None:
    conv = Conversation(policy())
    speaking(conv)
    out = conv.handle(TalkStarted(), 3000)
    assert [type(c).__name__ for c in out if isinstance(c, StopPlayback)] == ["StopPlayback"]
    assert conv.state is State.LISTENING and conv.visitor.talking
