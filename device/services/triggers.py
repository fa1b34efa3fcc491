"""Triggers: what a wake word, a button, SIGUSR1 or start-up ask of the daemon.

Every source ends in one thread-safe entry, ``Daemon.trigger(Trigger(...))``: gpiozero
callbacks and model worker threads call it from their own threads; it reaches the event
loop only through ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TriggerAction(enum.Enum):
    START = "start"  # start a conversation (ignored while one runs)
    INTERRUPT = "interrupt"  # stop the reply that is playing and listen (barge-in path)
    END = "end"  # end the conversation (a long press)


@dataclass(frozen=True, slots=True)
class Trigger:
    action: TriggerAction
    source: str  # "wake word hey_jarvis", "button", "SIGUSR1", "start-up"
