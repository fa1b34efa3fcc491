"""The engine's reply turns: reply audio to the speaker, a reply done, playback done.

A mixin of `Conversation` (device/conversation/engine.py), split out by job; pure like it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from device.conversation.commands import (
    AwaitPlayback,
    CancelTimer,
    Play,
    SetTimer,
)
from device.conversation.parts import EngineParts
from device.conversation.policy import (
    IDLE_TIMER,
    STALL_TIMER,
)
from device.conversation.reports import (
    ErrorReported,
    FirstAudio,
    UsageReported,
)
from device.conversation.state import State
from device.realtime.commands import (
    RequestReply,
)
from device.realtime.events import ResponseDone

if TYPE_CHECKING:
    from device.conversation.engine import Output


class ReplyTurns(EngineParts):
    """Mixed into `Conversation` (see device/conversation/parts.py)."""

    def _audio(self, rid: str, item_id: str, pcm: bytes, now_ms: float, out: list[Output]) -> None:
        v = self.visitor
        if not self.active or rid in v.dropped_responses:
            return
        v.spoken_responses.add(rid)
        items = v.reply_items.setdefault(rid, [])
        if item_id not in items:
            items.append(item_id)
        v.received_ms[item_id] = v.received_ms.get(item_id, 0.0) + len(pcm) * 500.0 / (
            self.policy.audio_rate_hz
        )
        v.last_reply = rid
        if not v.first_audio_seen:
            v.first_audio_seen = True
            if v.speech_stopped_at_ms is not None:
                out.append(FirstAudio(round(now_ms - v.speech_stopped_at_ms, 1)))
        if self.state in (State.THINKING, State.LISTENING, State.TOOL):
            self._to(State.SPEAKING, out)
        out.append(CancelTimer(IDLE_TIMER))
        out.append(Play(item_id, pcm))

    def _response_done(self, ev: ResponseDone, out: list[Output]) -> None:
        v = self.visitor
        if v.gate.active == ev.response_id:
            out.append(CancelTimer(STALL_TIMER))
        send_queued = v.gate.on_done(ev.response_id)
        out.append(UsageReported(ev.response_id, ev.status, ev.reason, ev.usage))
        if not self.active:
            return
        if ev.status == "failed":
            out.append(ErrorReported("response_failed", ev.reason or ""))
        if send_queued:
            self._send(RequestReply(), out)
            return
        if v.pending_tools:
            return
        if self.state in (State.SPEAKING, State.THINKING, State.TOOL) or v.ending:
            # wait for the reply to finish playing before listening (or hanging up)
            out.append(AwaitPlayback())

    def _playback_idle(self, out: list[Output]) -> None:
        v = self.visitor
        if not self.active or v.pending_tools or v.gate.active is not None:
            return
        if v.ending is not None:
            self._end(v.ending, out)
            return
        if self.state in (State.SPEAKING, State.THINKING):
            self._to(State.HANDOVER if v.handover else State.LISTENING, out)
            out.append(SetTimer(IDLE_TIMER, self.policy.idle_timeout_ms))
