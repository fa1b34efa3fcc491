"""Push-to-talk as a pure state machine: button events and the time in, actions out.

The daemon feeds ``handle(event, now_ms)`` with the button's PRESSED / RELEASED / HELD
events, calls ``tick(now_ms)`` when ``deadline_ms`` comes (a press becomes real after
``min_press_ms``, a long press after ``long_press_ms``; gpiozero's HELD does the same), and
tells it about the conversation with ``set_conversation(active, speaking)``. Every call
returns the actions to carry out, in order:

- ``Start``: no conversation yet: open one;
- ``Interrupt``: the assistant is speaking: stop the reply (the barge-in path);
- ``TalkBegin``: a push-to-talk turn starts (stop server turn detection; upload audio from
  ``pressed_ms`` on, the pre-roll covers the confirmation delay);
- ``TalkEnd(commit)``: the turn is over: ``commit`` True means commit the input buffer and
  ask for a response, False means drop what was uploaded and say nothing (the turn held
  less than ``min_talk_ms`` of audio, or a long press ended the conversation);
- ``EndConversation``: a long press: end the conversation.

``hold`` mode: a press (once it lasted ``min_press_ms``) interrupts a reply if one plays,
starts a conversation if there is none, and begins the turn; the release ends it. A turn
is timed from that confirmation, so a release ``min_talk_ms`` later commits.

``toggle`` mode: a press interrupts a reply at once; its release starts the turn, or ends
the one under way. Presses shorter than ``min_press_ms`` are ignored in both modes.

Example::

    ptt = PushToTalk("hold")
    ptt.handle(ButtonEvent.PRESSED, 0)     # []
    ptt.tick(100)                          # [Start(), TalkBegin(pressed_ms=0)]
    ptt.handle(ButtonEvent.RELEASED, 900)  # [TalkEnd(commit=True, talk_ms=800)]
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal


class ButtonEvent(enum.Enum):
    PRESSED = "pressed"
    RELEASED = "released"
    HELD = "held"  # gpiozero's when_held: the press reached hold_time


@dataclass(frozen=True, slots=True)
class Start:
    pass


@dataclass(frozen=True, slots=True)
class Interrupt:
    pass


@dataclass(frozen=True, slots=True)
class TalkBegin:
    pressed_ms: float  # when the button went down (the turn's audio starts there)


@dataclass(frozen=True, slots=True)
class TalkEnd:
    commit: bool
    talk_ms: float


@dataclass(frozen=True, slots=True)
class EndConversation:
    pass


PttAction = Start | Interrupt | TalkBegin | TalkEnd | EndConversation


class PushToTalk:
    """See the module docstring."""

    def __init__(
        self,
        mode: Literal["hold", "toggle"],
        *,
        min_press_ms: float = 100.0,
        min_talk_ms: float = 100.0,
        long_press_ms: float = 2000.0,
    ) -> None:
        if long_press_ms <= min_press_ms:
            raise ValueError("long_press_ms must be longer than min_press_ms")
        self.mode = mode
        self.min_press_ms = min_press_ms
        self.min_talk_ms = min_talk_ms
        self.long_press_ms = long_press_ms
        self.in_conversation = False
        self.assistant_speaking = False
        self._pressed_at: float | None = None
        self._confirmed = False
        self._long_done = False
        self._talking_since: float | None = None

    @property
    def talking(self) -> bool:
        """A push-to-talk turn is open."""
        return self._talking_since is not None

    @property
    def deadline_ms(self) -> float | None:
        """When ``tick`` must next be called (None: nothing pending)."""
        if self._pressed_at is None or self._long_done:
            return None
        if not self._confirmed:
            return self._pressed_at + self.min_press_ms
        return self._pressed_at + self.long_press_ms

    def set_conversation(self, active: bool, speaking: bool = False) -> None:
        """The daemon's view; a conversation that ended takes its open turn with it."""
        self.in_conversation = active
        self.assistant_speaking = speaking and active
        if not active:
            self._talking_since = None

    def handle(self, event: ButtonEvent, now_ms: float) -> list[PttAction]:
        match event:
            case ButtonEvent.PRESSED:
                if self._pressed_at is not None:
                    return []
                self._pressed_at = now_ms
                self._confirmed = False
                self._long_done = False
                return self.tick(now_ms)
            case ButtonEvent.RELEASED:
                return self._released(now_ms)
            case ButtonEvent.HELD:
                if self._pressed_at is None:
                    return []
                actions = self.tick(now_ms)
                return actions + self._long_press(now_ms)

    def tick(self, now_ms: float) -> list[PttAction]:
        if self._pressed_at is None:
            return []
        held_ms = now_ms - self._pressed_at
        actions: list[PttAction] = []
        if not self._confirmed and held_ms >= self.min_press_ms:
            self._confirmed = True
            actions += self._confirm(now_ms)
        if self._confirmed and held_ms >= self.long_press_ms:
            actions += self._long_press(now_ms)
        return actions

    # -- transitions ----------------------------------------------------------------------

    def _confirm(self, now_ms: float) -> list[PttAction]:
        actions: list[PttAction] = []
        if self.assistant_speaking:
            actions.append(Interrupt())
            self.assistant_speaking = False
        if self.mode == "hold":
            assert self._pressed_at is not None
            actions += self._begin(now_ms, self._pressed_at)
        return actions

    def _begin(self, now_ms: float, pressed_ms: float) -> list[PttAction]:
        actions: list[PttAction] = []
        if not self.in_conversation:
            actions.append(Start())
            self.in_conversation = True
        actions.append(TalkBegin(pressed_ms))
        self._talking_since = now_ms
        return actions

    def _end(self, now_ms: float, commit: bool) -> list[PttAction]:
        assert self._talking_since is not None
        talk_ms = now_ms - self._talking_since
        self._talking_since = None
        return [TalkEnd(commit and talk_ms >= self.min_talk_ms, talk_ms)]

    def _released(self, now_ms: float) -> list[PttAction]:
        if self._pressed_at is None:
            return []
        actions = self.tick(now_ms)  # a confirmation due before the release
        confirmed, long_done = self._confirmed, self._long_done
        pressed_ms, self._pressed_at = self._pressed_at, None
        self._confirmed = False
        self._long_done = False
        if not confirmed or long_done:
            return actions
        if self._talking_since is not None:
            actions += self._end(now_ms, commit=True)
        elif self.mode == "toggle":
            actions += self._begin(now_ms, pressed_ms)
        return actions

    def _long_press(self, now_ms: float) -> list[PttAction]:
        if self._long_done or self._pressed_at is None:
            return []
        self._long_done = True
        actions: list[PttAction] = []
        if self._talking_since is not None:
            actions += self._end(now_ms, commit=False)
        if self.in_conversation:
            actions.append(EndConversation())
            self.in_conversation = False
            self.assistant_speaking = False
        return actions
