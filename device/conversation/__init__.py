"""The conversation engine (pure) and its vocabulary.

- state.py: the `State` enum;
- inputs.py: local events (start, stop, tool finished, timers, device health);
- commands.py: what the engine asks the daemon to do;
- reports.py: typed reports for the sinks (`ConversationEnded` carries an `Outcome`);
- outputs.py: `Output`, what `Conversation.handle` returns (a command or a report);
- policy.py: what the engine needs from the settings; timer names;
- visitor.py: everything of one conversation, replaced whole per visitor, made of small
  pure machines that own their fields: caller.py (the caller's turns, the push-to-talk
  button), replies.py (the reply ledger), tool_desk.py (the tool calls), link_keeper.py
  (the visitor's link; the device's availability), outbox.py (commands sent, the retry
  of a failed reply request), farewell.py (hand-over and hang-up);
- steps.py: the engine's steps that change no state (bookkeeping and its outputs);
  lifecycle.py: a visit's start, its session lost and restored, its end; push_to_talk.py:
  a held turn; verdicts.py: what a server error means (the engine then decides);
  disclosure.py: the AI disclosure and the consent question said as a visit starts, the
  caller's answer read from their words, the session's truthful-AI instruction;
- engine.py: the transitions (`Conversation.handle(event, now_ms)`): every state change.
"""

from device.conversation.commands import (
    AwaitPlayback,
    CancelTimer,
    Command,
    Connect,
    Disconnect,
    HoldUpload,
    Play,
    PlayPrompt,
    ProbeLink,
    Reconnect,
    RunTool,
    Send,
    SetTimer,
    StopPlayback,
    Upload,
)
from device.conversation.engine import Conversation
from device.conversation.inputs import (
    DeviceHealth,
    Event,
    InterruptRequested,
    LinkLost,
    LinkStatus,
    LocalEvent,
    PlaybackIdle,
    PlaybackStopped,
    ReconnectFailed,
    SessionReady,
    StartRequested,
    StopRequested,
    TalkEnded,
    TalkStarted,
    TimerFired,
    ToolFinished,
)
from device.conversation.outputs import Output
from device.conversation.policy import (
    IDLE_TIMER,
    MAX_TIMER,
    RESTORE_TIMER,
    RETRY_TIMER,
    SETUP_TIMER,
    SLOW_PREFIX,
    STALL_TIMER,
    TRANSCRIPT_TIMER,
    ConversationPolicy,
)
from device.conversation.reports import REPORT_TYPES, Report
from device.conversation.state import State
from device.conversation.visitor import Visitor

__all__ = [
    "IDLE_TIMER",
    "MAX_TIMER",
    "REPORT_TYPES",
    "RESTORE_TIMER",
    "RETRY_TIMER",
    "SETUP_TIMER",
    "SLOW_PREFIX",
    "STALL_TIMER",
    "TRANSCRIPT_TIMER",
    "AwaitPlayback",
    "CancelTimer",
    "Command",
    "Connect",
    "Conversation",
    "ConversationPolicy",
    "DeviceHealth",
    "Disconnect",
    "Event",
    "HoldUpload",
    "InterruptRequested",
    "LinkLost",
    "LinkStatus",
    "LocalEvent",
    "Output",
    "Play",
    "PlayPrompt",
    "PlaybackIdle",
    "PlaybackStopped",
    "ProbeLink",
    "Reconnect",
    "ReconnectFailed",
    "Report",
    "RunTool",
    "Send",
    "SessionReady",
    "SetTimer",
    "StartRequested",
    "State",
    "StopPlayback",
    "StopRequested",
    "TalkEnded",
    "TalkStarted",
    "TimerFired",
    "ToolFinished",
    "Upload",
    "Visitor",
]
