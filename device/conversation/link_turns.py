"""The engine's link turns: a lost session, a new one with the words restored, offline and busy.

A mixin of `Conversation` (device/conversation/engine.py), split out by job; pure like it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from device.conversation.commands import (
    AwaitPlayback,
    CancelTimer,
    Disconnect,
    PlayPrompt,
    Reconnect,
    SetTimer,
    Upload,
)
from device.conversation.inputs import (
    LinkLost,
    LinkStatus,
)
from device.conversation.parts import EngineParts
from device.conversation.policy import (
    IDLE_TIMER,
    RESTORE_TIMER,
    SETUP_TIMER,
    SLOW_PREFIX,
    STALL_TIMER,
    TRANSCRIPT_TIMER,
)
from device.conversation.reports import (
    ErrorReported,
    Note,
)
from device.conversation.state import State
from device.realtime.commands import (
    AddTextItem,
    CancelReply,
    RequestReply,
)

if TYPE_CHECKING:
    from device.conversation.engine import Output


class LinkTurns(EngineParts):
    """Mixed into `Conversation` (see device/conversation/parts.py)."""

    def _link_lost(self, ev: LinkLost, out: list[Output]) -> None:
        if not self.active:
            return
        if self.state is State.RECONNECTING:
            return  # the old link's last words: the reconnect is already under way
        out.append(ErrorReported("link_lost", ev.reason))
        if self.state is State.CONNECTING:  # it could not be opened for this visitor
            if ev.kind == "auth":
                self._end(f"link refused: {ev.reason}", out, state=State.ERROR, disconnect=False)
                return
            out.append(PlayPrompt("busy" if ev.kind == "busy" else "offline"))
            self._end(f"no link: {ev.reason}", out, state=State.OFFLINE, disconnect=False)
            return
        if self._may_reconnect(ev.retryable):
            self._reconnect(f"link lost: {ev.reason}", out, disconnect=False)
            return
        if self.visitor.reconnects:
            out.append(Note(f"gave up after {self.visitor.reconnects} new session(s)"))
        out.append(PlayPrompt("connection_lost"))
        self._end(f"link lost: {ev.reason}", out, state=State.OFFLINE, disconnect=False)

    def _drop_session_work(self, out: list[Output]) -> None:
        """What the session owed is gone: stop uploads, its timers, tools and reply."""
        v = self.visitor
        out.append(Upload(False))
        v.caller_turn_open = False
        out.append(CancelTimer(IDLE_TIMER))
        out.append(CancelTimer(STALL_TIMER))
        for call_id in v.pending_tools:
            out.append(CancelTimer(SLOW_PREFIX + call_id))
        if v.held:
            out.append(CancelTimer(TRANSCRIPT_TIMER))
            v.held.clear()
        v.pending_tools.clear()
        v.gate.reset()

    def _may_reconnect(self, retryable: bool) -> bool:
        return (
            retryable
            and self.policy.reconnect
            and self.visitor.reconnects < self.policy.max_reconnects
        )

    def _reconnect(self, why: str, out: list[Output], *, disconnect: bool) -> None:
        """The session is gone mid-conversation: open a new one, restore the words so far.

        What the old session owed (a reply, tool results it asked for) cannot reach the
        new one: it is dropped, and the model is asked again once the words are restored.
        """
        v = self.visitor
        v.reconnects += 1
        out.append(Note(f"{why}: opening a new session (the conversation goes on)"))
        self._drop_session_work(out)
        v.untranscribed.clear()
        v.sent.clear()
        v.lost_prompt_played = False
        if disconnect:
            out.append(Disconnect())
        self._to(State.RECONNECTING, out)
        out.append(Reconnect())
        out.append(SetTimer(RESTORE_TIMER, self.policy.restore_prompt_ms))

    def _session_ready(self, restore: bool, out: list[Output]) -> None:
        v = self.visitor
        if self.state is State.CONNECTING:
            out.append(CancelTimer(SETUP_TIMER))
            self._to(State.LISTENING, out)
            out.append(Upload(True))
            out.append(SetTimer(IDLE_TIMER, self.policy.idle_timeout_ms))
            if v.talk_pending:
                self._begin_talk(out)
        elif self.state is State.RECONNECTING and restore:
            out.append(CancelTimer(RESTORE_TIMER))
            for role, text in v.transcript:
                if text:  # a reply cut before its first word left nothing
                    self._send(AddTextItem("user" if role == "user" else "assistant", text), out)
            out.append(Note(f"session restored with {len(v.transcript)} item(s) of text"))
            out.append(Upload(True))
            if v.transcript and v.transcript[-1][0] == "user" and v.ending is None:
                if v.gate.request():  # the caller's last words were not answered yet
                    self._send(RequestReply(), out)
                self._to(State.THINKING, out)
            else:
                self._to(State.LISTENING, out)
                out.append(SetTimer(IDLE_TIMER, self.policy.idle_timeout_ms))

    def _link_status(self, ev: LinkStatus, out: list[Output]) -> None:
        """While idle: the standby keeper says whether a link can be had."""
        if ev.up:
            self._link_down = None
            if self.state is State.OFFLINE or (
                self.state is State.ERROR and self._device_problem is None
            ):
                self._to(State.IDLE, out)
                if self.policy.back_online_prompt:
                    out.append(PlayPrompt("back_online"))
            return
        first = self._link_down is None
        self._link_down = (ev.reason, ev.kind)
        if first and not self.active:  # a visitor waiting hears of it through LinkLost
            out.append(ErrorReported("link_down", ev.reason))
        if not self.active and self.state is State.IDLE:
            self._to(State.ERROR if ev.kind == "auth" else State.OFFLINE, out)

    def _busy(self, why: str, wait_s: float, out: list[Output]) -> None:
        """The service is overloaded: say so (never silence), back off, end the visit."""
        self._busy_until_ms = max(self._busy_until_ms, self._now_ms + wait_s * 1000.0)
        out.append(ErrorReported("busy", why))
        if self.active:
            out.append(PlayPrompt("busy"))
            self.visitor.ending = "the service is busy"
            self._end("the service is busy", out)

    def _reply_stalled(self, out: list[Output]) -> None:
        """A reply that went silent is abandoned: cancelled, a short prompt, listen again."""
        v = self.visitor
        rid = v.gate.active
        s = self.policy.reply_stall_ms / 1000.0
        out.append(
            ErrorReported("reply_stalled", f"the server sent nothing for {s:g} s in a reply")
        )
        if rid is not None:
            v.dropped_responses.add(rid)
            v.gate.on_done(rid)
        self._send(CancelReply(), out)
        out.append(PlayPrompt("error"))
        if not v.pending_tools:
            self._to(State.SPEAKING, out)
            out.append(AwaitPlayback())
