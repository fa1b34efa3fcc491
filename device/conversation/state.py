"""The device's states, as the timeline, the LEDs and systemd STATUS show them."""

from __future__ import annotations

import enum


class State(enum.Enum):
    IDLE = "idle"  # no conversation; waiting for a wake (button, wake word, start-up)
    CONNECTING = "connecting"  # opening the visitor's Realtime session
    LISTENING = "listening"  # the caller may speak; audio is uploaded
    THINKING = "thinking"  # the caller's turn ended; waiting for the reply
    SPEAKING = "speaking"  # reply audio is arriving or playing
    TOOL = "tool"  # a tool the model called is running
    HANDOVER = "handover"  # a human was called
    RECONNECTING = "reconnecting"  # the link dropped mid-conversation; a new one is opening
    OFFLINE = "offline"  # no link: wakes are answered with the local offline prompt
    ERROR = "error"  # a fatal problem (bad key, bad session settings, no microphone)


ENDED = (State.IDLE, State.OFFLINE, State.ERROR)
"""States with no conversation under way."""

OWING = (State.CONNECTING, State.THINKING, State.SPEAKING, State.TOOL)
"""States in which something is owed to the caller (a session, a reply, a tool)."""
