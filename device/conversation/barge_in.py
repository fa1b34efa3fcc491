"""The engine's interruptions: stop the reply, truncate at what was heard, cancel, listen.

A mixin of `Conversation` (device/conversation/engine.py), split out by job; pure like it.
Step 1 (`_interrupt`) asks the daemon to silence the speaker (`StopPlayback`); step 2
(`_playback_stopped`) gets the playback clock's ms heard per item and truncates there. The
reply's words kept for a restore are cut to about what was heard, as the server cuts them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from device.common.text import one_line
from device.conversation.commands import (
    SetTimer,
    StopPlayback,
)
from device.conversation.inputs import (
    PlaybackStopped,
)
from device.conversation.parts import EngineParts
from device.conversation.policy import (
    IDLE_TIMER,
)
from device.conversation.reports import (
    Interrupted,
    Note,
)
from device.conversation.state import State
from device.realtime.commands import (
    CancelReply,
    Truncate,
)
from device.realtime.turns import truncate_point

if TYPE_CHECKING:
    from device.conversation.engine import Output


def heard_prefix(text: str, fraction: float) -> str:
    """About the part of ``text`` a caller heard when ``fraction`` of its audio played:
    whole words in proportion (speech is near enough even), "" when none."""
    words = text.split()
    keep = round(len(words) * min(max(fraction, 0.0), 1.0))
    return " ".join(words[:keep])


class BargeIn(EngineParts):
    """Mixed into `Conversation` (see device/conversation/parts.py)."""

    def _remember_reply(self, item_id: str, text: str) -> None:
        """The reply's words for a restore: only what was heard of a truncated one (the
        server drops a truncated item's transcript too)."""
        v = self.visitor
        if item_id in v.heard_fraction:
            text = heard_prefix(text, v.heard_fraction[item_id])
        if text:
            v.transcript_at[item_id] = len(v.transcript)
            v.transcript.append(("assistant", text))

    def _cut_reply_text(self, item_id: str, fraction: float, out: list[Output]) -> None:
        v = self.visitor
        v.heard_fraction[item_id] = fraction
        at = v.transcript_at.get(item_id)
        if at is None:
            return  # its words come later: cut then
        heard = heard_prefix(v.transcript[at][1], fraction)
        v.transcript[at] = ("assistant", heard)
        out.append(
            Note(
                f'the caller heard about: "{one_line(heard, 120)}"'
                if heard
                else "the caller heard none of the reply's words"
            )
        )

    def _interrupt(self, source: str, out: list[Output], *, device: bool) -> None:
        """Barge-in, step 1: silence the speaker now; the daemon answers PlaybackStopped."""
        v = self.visitor
        rid = v.last_reply
        items = tuple(v.reply_items.get(rid, ())) if rid is not None else ()
        if rid is not None:
            v.dropped_responses.add(rid)  # late deltas of it are not played
        v.interrupt_at_ms = self._now_ms
        out.append(StopPlayback(source, items, device_initiated=device))
        self._to(State.LISTENING, out)

    def _playback_stopped(self, ev: PlaybackStopped, out: list[Output]) -> None:
        """Barge-in, step 2: truncate what was heard, cancel the reply if still running."""
        v = self.visitor
        if not self.active:
            return
        cut_item: str | None = None
        cut_ms: int | None = None
        for item_id, heard in ev.heard_ms:
            point = truncate_point(heard, v.received_ms.get(item_id, 0.0))
            if point is not None:
                cut_item, cut_ms = item_id, point
                self._send(Truncate(item_id, point), out)
                received = v.received_ms.get(item_id, 0.0)
                self._cut_reply_text(item_id, point / received if received else 0.0, out)
                break
        if v.gate.active is not None and (ev.device_initiated or not self.policy.server_interrupts):
            self._send(CancelReply(), out)
        v.interruptions += 1
        asked = v.interrupt_at_ms
        stop_ms = None if asked is None else round(self._now_ms - asked, 1)
        out.append(Interrupted(ev.source, v.interruptions, cut_item, cut_ms, stop_ms))
        if self.state is State.LISTENING:
            out.append(SetTimer(IDLE_TIMER, self.policy.idle_timeout_ms))
