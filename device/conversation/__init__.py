"""The conversation engine (pure) and its vocabulary.

- state.py: the `State` enum;
- inputs.py: local events (start, stop, tool finished, timers, device health);
- commands.py: what the engine asks the daemon to do;
- reports.py: typed reports for the sinks;
- visitor.py: everything of one conversation, replaced whole per visitor;
- policy.py: what the engine needs from the settings; timer names;
- engine.py: the transitions (`Conversation.handle(event, now_ms)`);
- tool_turns.py: the tool-call part of the transitions.
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
from device.conversation.engine import Conversation, Output
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
from device.conversation.policy import (
    IDLE_TIMER,
    MAX_TIMER,
    RESTORE_TIMER,
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
