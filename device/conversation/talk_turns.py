"""Push-to-talk turns: the caller holds the button, the device ends the turn itself.

A mixin of `Conversation`, split out by job. While the button is held the server must not
end the turn on a pause: with server turn detection configured, the session's turn
detection is switched off (`UpdateSession` with `NoTurnDetection`) for the held turn, and
everything heard is uploaded (the noise gate held open). On release the device commits the
turn (`CommitInput`) and asks for the reply (`RequestReply`, gated), then switches the
server's turn detection back on; a turn too short to hold speech is dropped (`ClearInput`)
and nothing is said.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from device.conversation.commands import CancelTimer, HoldUpload, SetTimer
from device.conversation.parts import EngineParts
from device.conversation.policy import IDLE_TIMER
from device.conversation.reports import Note, TurnEnded
from device.conversation.state import State
from device.realtime.commands import (
    ClearInput,
    CommitInput,
    RequestReply,
    UpdateSession,
)
from device.realtime.settings import NoTurnDetection

if TYPE_CHECKING:
    from device.conversation.engine import Output


class TalkTurns(EngineParts):
    """Mixed into `Conversation` (see device/conversation/parts.py)."""

    def _talk_started(self, source: str, out: list[Output]) -> None:
        v = self.visitor
        if not self.active:
            self._start(source, out)
            if self.active:
                self.visitor.talk_pending = True
            return
        if self.state is State.CONNECTING or self.state is State.RECONNECTING:
            v.talk_pending = True
            return
        if self.state is State.SPEAKING:
            self._interrupt(source, out, device=True)
        self._begin_talk(out)

    def _begin_talk(self, out: list[Output]) -> None:
        v = self.visitor
        v.talk_pending = False
        if v.talking:
            return
        v.talking = True
        if self.policy.server_turn_detection:
            spec = dataclasses.replace(self.policy.session, turn_detection=NoTurnDetection())
            self._send(UpdateSession(spec), out)
        v.caller_turn_open = True
        out.append(HoldUpload(True))
        out.append(CancelTimer(IDLE_TIMER))
        if self.state is not State.LISTENING:
            self._to(State.LISTENING, out)

    def _talk_ended(self, commit: bool, out: list[Output]) -> None:
        v = self.visitor
        if v.talk_pending and not v.talking:
            v.talk_pending = False  # released before the session was ready: nothing heard
            out.append(Note("the button was released before the session was ready"))
            return
        if not v.talking or not self.active:
            return
        v.talking = False
        v.caller_turn_open = False
        out.append(HoldUpload(False))
        if commit:
            self._send(CommitInput(), out)
            v.speech_stopped_at_ms = self._now_ms
            v.first_audio_seen = False
            v.turns += 1
            out.append(TurnEnded(v.turns))
            if v.gate.request():
                self._send(RequestReply(), out)
            self._to(State.THINKING, out)
        else:
            self._send(ClearInput(), out)
            out.append(SetTimer(IDLE_TIMER, self.policy.idle_timeout_ms))
        if self.policy.server_turn_detection:
            self._send(UpdateSession(self.policy.session), out)
