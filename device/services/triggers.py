"""Triggers: what a wake word, a button, the mute switch, a signal (SIGUSR1 starts, SIGUSR2
mutes and unmutes), start-up or a service ask of the daemon.

Every source ends in one thread-safe entry, ``Daemon.trigger(Trigger(...))`` (the daemon's
`Inbox`): gpiozero callbacks and model worker threads call it from their own threads; it
reaches the event loop only through ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TriggerAction(enum.Enum):
    START = "start"  # start a conversation (ignored while one runs)
    INTERRUPT = "interrupt"  # stop the reply that is playing and listen (barge-in path)
    END = "end"  # end the conversation (a long press)
    MUTE = "mute"  # the microphone off: a conversation under way ends, no wake word
    UNMUTE = "unmute"  # the microphone on again: back to idle


@dataclass(frozen=True, slots=True)
class Trigger:
    action: TriggerAction
    source: str  # "wake word hey_jarvis", "button", "SIGUSR1", "start-up"
