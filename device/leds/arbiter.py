"""Which pattern shows: what the daemon knows in, one pattern name out (pure).

`LedInputs` is everything that decides it: the engine's state, and what the daemon knows
beside it (muted, the echo hold, an audio device missing, the link offline, a wake just
heard, a hand-over waiting). `choose()` walks `PRIORITY` from the top and takes the first
row that holds, as Home Assistant's Voice PE does: an error and muted over everything, a
conversation over the idle states, a hand-over waiting over offline and idle.

`LedState` is the small machine that keeps `LedInputs` from the reports.
Contract: hand it every report (``report(t_ms, report)``) and what the daemon tells it
(``set_muted``, ``set_echo_held``); each frame, ``showing(now_ms)`` says which pattern
shows and since when (its animation's t=0). Timed inputs (the wake flash, a hand-over
waiting) lapse on their own: ``next_change_ms()`` says when, so a still pattern need not
be polled.

Example::

    leds = LedState(wake_flash_ms=400, handover_show_ms=300_000)
    leds.report(0.0, Ready(after_ms=900.0, standby=True, offline=False))
    leds.report(10.0, ConversationStarted("conv-1", "button"))
    leds.showing(20.0)    # Showing(name="wake", since_ms=20.0)
    leds.showing(500.0)   # Showing(name="idle", ...) until a StateChanged says more
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from device.conversation.reports import (
    AudioDeviceChanged,
    ConversationEnded,
    ConversationStarted,
    HandedOver,
    Interrupted,
    MuteChanged,
    Outcome,
    Ready,
    Report,
    StateChanged,
)
from device.conversation.state import State


@dataclass(frozen=True, slots=True)
class LedInputs:
    """What decides the pattern (the timed ones already judged at one instant)."""

    state: State = State.IDLE
    ready: bool = False  # the Ready report came: start-up is over
    muted: bool = False  # the microphone is muted (the daemon tells it)
    echo_held: bool = False  # the upload is held while the device's own sound plays
    audio_problem: bool = False  # an audio device went missing (AudioDeviceChanged)
    link_offline: bool = False  # Ready said offline (until the state says more)
    waking: bool = False  # within the 'heard you' flash of a wake or a button press
    handover_waiting: bool = False  # a hand-over ended the visit; a human is on the way


Rule = tuple[str, str, Callable[[LedInputs], bool]]

_IN_TALK = (State.LISTENING, State.THINKING, State.SPEAKING, State.TOOL)

PRIORITY: tuple[Rule, ...] = (
    ("error", "the engine is in ERROR, or an audio device is missing",
     lambda i: i.state is State.ERROR or i.audio_problem),
    ("muted", "the microphone is muted", lambda i: i.muted),
    ("wake", "a wake word or button press was just heard (wake_flash_ms)", lambda i: i.waking),
    ("handover", "HANDOVER: a human was called, the conversation goes on",
     lambda i: i.state is State.HANDOVER),
    ("reconnecting", "RECONNECTING: the link dropped mid-conversation",
     lambda i: i.state is State.RECONNECTING),
    ("tool", "TOOL: a tool the model called runs", lambda i: i.state is State.TOOL),
    ("speaking", "SPEAKING, or LISTENING while the upload is held for echo",
     lambda i: i.state is State.SPEAKING or (i.state is State.LISTENING and i.echo_held)),
    ("thinking", "THINKING or CONNECTING: waiting for the reply or the session",
     lambda i: i.state in (State.THINKING, State.CONNECTING)),
    ("listening", "LISTENING: the caller may speak", lambda i: i.state is State.LISTENING),
    ("starting", "no Ready report yet: the daemon is starting", lambda i: not i.ready),
    ("handover", "a hand-over ended the visit (handover_show_s, or to the next wake)",
     lambda i: i.handover_waiting),
    ("offline", "OFFLINE, or Ready said offline: the offline prompts serve",
     lambda i: i.state is State.OFFLINE or i.link_offline),
    ("idle", "anything else: waiting for a wake", lambda i: True),
)  # fmt: skip
"""(pattern, when, rule), highest first: the first rule that holds shows (docs/leds.md)."""


def choose(inputs: LedInputs) -> str:
    """The pattern that shows for ``inputs``: the first `PRIORITY` row that holds."""
    for name, _when, rule in PRIORITY:
        if rule(inputs):
            return name
    return "idle"  # pragma: no cover - the last row always holds


@dataclass(frozen=True, slots=True)
class Showing:
    name: str
    since_ms: float  # when this pattern began to show: its animation's t=0


_HEARD_SOURCES = ("button", "wake", "sigusr1")


class LedState:
    """See the module docstring."""

    def __init__(self, *, wake_flash_ms: float, handover_show_ms: float) -> None:
        self.wake_flash_ms = wake_flash_ms
        self.handover_show_ms = handover_show_ms
        self._inputs = LedInputs()
        self._wake_until = -1.0
        self._handover_until = -1.0
        self._handed_over = False  # in the conversation under way
        self._showing: Showing | None = None
        self._judged_until: float | None = None  # `showing` holds until then, or a change

    def report(self, t_ms: float, report: Report) -> bool:
        """Take one report; True when it may change what shows."""
        i = self._inputs
        match report:
            case StateChanged(new=new):
                self._inputs = replace(i, state=new, link_offline=False)
            case Ready(offline=offline):
                self._inputs = replace(i, ready=True, link_offline=offline)
            case ConversationStarted(source=source):
                self._handed_over = False
                self._handover_until = -1.0
                self._heard(t_ms, source)
            case Interrupted(source=source):
                self._heard(t_ms, source)
            case HandedOver():
                self._handed_over = True
                self._handover_until = t_ms + self.handover_show_ms
            case ConversationEnded(outcome=outcome):
                if self._handed_over or outcome is Outcome.HANDED_OVER:
                    self._handover_until = t_ms + self.handover_show_ms
                self._handed_over = False
            case AudioDeviceChanged(ok=ok):
                self._inputs = replace(i, audio_problem=not ok)
            case MuteChanged(muted=muted):
                self._inputs = replace(i, muted=muted)
            case _:
                return False
        self._judged_until = None
        return True

    def _heard(self, t_ms: float, source: str) -> None:
        if self.wake_flash_ms > 0 and source.lower().startswith(_HEARD_SOURCES):
            self._wake_until = t_ms + self.wake_flash_ms

    def set_muted(self, muted: bool) -> None:
        self._inputs = replace(self._inputs, muted=muted)
        self._judged_until = None

    def set_echo_held(self, held: bool) -> None:
        self._inputs = replace(self._inputs, echo_held=held)
        self._judged_until = None

    def inputs(self, now_ms: float) -> LedInputs:
        """`LedInputs` at ``now_ms`` (the timed ones judged then)."""
        return replace(
            self._inputs,
            waking=now_ms < self._wake_until,
            handover_waiting=now_ms < self._handover_until,
        )

    def showing(self, now_ms: float) -> Showing:
        """The pattern at ``now_ms``, and since when it shows (kept while it stays)."""
        until = self._judged_until
        if self._showing is not None and until is not None and now_ms < until:
            return self._showing  # nothing changed since it was judged (once per frame: cheap)
        name = choose(self.inputs(now_ms))
        if self._showing is None or self._showing.name != name:
            self._showing = Showing(name, now_ms)
        lapse = self.next_change_ms(now_ms)
        self._judged_until = math.inf if lapse is None else lapse
        return self._showing

    @property
    def judged_until(self) -> float:
        """Until when the last `showing` holds unless a report or a setter changes it
        (``math.inf``: no timed input pending); only valid after `showing`."""
        return self._judged_until if self._judged_until is not None else -math.inf

    def next_change_ms(self, now_ms: float) -> float | None:
        """When a timed input lapses next after ``now_ms`` (None: nothing pending)."""
        due = [t for t in (self._wake_until, self._handover_until) if t > now_ms]
        return min(due) if due else None
