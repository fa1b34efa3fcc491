"""The talk button's part of the daemon: gpiozero's events through the pure push-to-talk
machine (device/buttons/ptt.py), whose actions become engine events.

Button events reach the loop through the `Inbox`; the machine's deadlines (a hold, a
minimum press) come back as a timer on the loop. It learns whether a conversation runs and
whether the device speaks from `state_changed`, never by reading the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from device.buttons.ptt import (
    ButtonEvent,
    EndConversation,
    Interrupt,
    PushToTalk,
    Start,
    TalkBegin,
    TalkEnd,
)
from device.buttons.settings import ButtonSettings
from device.conversation import (
    Event,
    InterruptRequested,
    StartRequested,
    State,
    StopRequested,
    TalkEnded,
    TalkStarted,
)
from device.conversation.state import ENDED


class TalkButton:
    def __init__(self, settings: ButtonSettings, dispatch: Callable[[Event], None]) -> None:
        self.ptt = PushToTalk(
            settings.mode,
            min_press_ms=settings.min_press_ms,
            min_talk_ms=settings.min_talk_ms,
            long_press_ms=settings.long_press_s * 1000.0,
        )
        self._dispatch = dispatch
        self._state = State.IDLE
        self._timer: asyncio.TimerHandle | None = None

    def state_changed(self, new: State) -> None:
        self._state = new

    def event(self, event: ButtonEvent | None) -> None:
        """A press, hold or release (None: the machine's own deadline came), on the loop."""
        loop = asyncio.get_running_loop()
        now_ms = loop.time() * 1000.0
        ptt = self.ptt
        ptt.set_conversation(self._state not in ENDED, self._state is State.SPEAKING)
        actions = ptt.tick(now_ms) if event is None else ptt.handle(event, now_ms)
        talk = any(isinstance(a, TalkBegin) for a in actions)
        for action in actions:
            match action:
                case Start() if not talk:
                    self._dispatch(StartRequested("button"))
                case Interrupt():
                    self._dispatch(InterruptRequested("button"))
                case TalkBegin():
                    self._dispatch(TalkStarted("button"))
                case TalkEnd(commit=commit):
                    self._dispatch(TalkEnded(commit, "button"))
                case EndConversation():
                    self._dispatch(StopRequested("ended with a long press"))
                case _:
                    pass
        self._schedule(loop, ptt.deadline_ms, now_ms)

    def _schedule(
        self, loop: asyncio.AbstractEventLoop, deadline_ms: float | None, now_ms: float
    ) -> None:
        self.close()
        if deadline_ms is not None:
            delay_s = max(0.0, (deadline_ms - now_ms) / 1000.0)
            self._timer = loop.call_later(delay_s, self.event, None)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
