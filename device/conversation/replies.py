"""The reply ledger: what the device said to one visitor, and what of it was heard.

A small pure machine of one visitor (device/conversation/visitor.py): the words so far (for
tools and for restoring a lost session), the reply audio received per item (the playback
clock is clamped to it when a reply is truncated), which responses spoke and which were
dropped, and the interruptions. It keeps the books; the engine decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from device.common.text import one_line
from device.realtime.turns import truncate_point


def heard_prefix(text: str, fraction: float) -> str:
    """About the part of ``text`` a caller heard when ``fraction`` of its audio played:
    whole words in proportion (speech is near enough even), "" when none."""
    words = text.split()
    keep = round(len(words) * min(max(fraction, 0.0), 1.0))
    return " ".join(words[:keep])


def heard_note(heard: str) -> str:
    """The timeline's line for what the caller heard of a cut reply."""
    if not heard:
        return "the caller heard none of the reply's words"
    return f'the caller heard about: "{one_line(heard, 120)}"'


@dataclass(frozen=True, slots=True)
class Cut:
    """Where an interrupted reply is truncated: ``item_id`` at ``audio_end_ms``, which is
    ``fraction`` of the audio received for it."""

    item_id: str
    audio_end_ms: int
    fraction: float


class ReplyLedger:
    """What was said, by whom, and how much of each reply was heard.

    Contract for the engine:

    - the caller's words: ``caller_said(text)``; a reply's words: ``reply_said(item_id,
      text)`` (only what was heard of a truncated one is kept: the server drops the rest);
    - before playing reply audio, ask ``plays(response_id)`` (False: it was dropped, say
      nothing); then ``audio(response_id, item_id, ms)`` counts it;
    - a barge-in, step 1: ``interrupt(now_ms)`` drops the last reply and names its items
      (for ``StopPlayback``); step 2, with the playback clock's ms heard per item:
      ``cut_at(heard_ms)`` says where to truncate (None: nothing to cut), ``cut(item_id,
      fraction)`` cuts the words kept (the heard part, or None while they are still to
      come), ``interrupted(now_ms)`` counts it and times the silence;
    - a reply abandoned for any other reason: ``drop(response_id)``.

    Example::

        ledger = ReplyLedger()
        if ledger.plays("resp_1"):
            ledger.audio("resp_1", "item_a1", 20.0)
        items = ledger.interrupt(now_ms=3000.0)  # ("item_a1",)
        cut = ledger.cut_at((("item_a1", 12.5),))  # Cut("item_a1", 12, 0.6)
    """

    def __init__(self) -> None:
        self._transcript: list[tuple[str, str]] = []  # (role, text)
        self._transcript_at: dict[str, int] = {}  # reply item -> index
        self._heard_fraction: dict[str, float] = {}  # truncated item -> part heard
        self._reply_items: dict[str, list[str]] = {}  # response -> items
        self._received_ms: dict[str, float] = {}  # item -> audio received
        self._last_reply: str | None = None  # the response whose audio came last
        self._dropped: set[str] = set()
        self._spoken: set[str] = set()  # responses with reply audio
        self._interruptions = 0
        self._interrupt_at_ms: float | None = None  # when the last StopPlayback was asked

    # -- words -------------------------------------------------------------------------

    @property
    def transcript(self) -> tuple[tuple[str, str], ...]:
        """The words so far, (role, text), role "user" or "assistant"."""
        return tuple(self._transcript)

    @property
    def caller_spoke_last(self) -> bool:
        """The last words are the caller's: they are not answered yet."""
        return bool(self._transcript) and self._transcript[-1][0] == "user"

    def caller_said(self, text: str) -> None:
        self._transcript.append(("user", text))

    def reply_said(self, item_id: str, text: str) -> None:
        """The reply's words for a restore: only what was heard of a truncated one."""
        if item_id in self._heard_fraction:
            text = heard_prefix(text, self._heard_fraction[item_id])
        if text:
            self._transcript_at[item_id] = len(self._transcript)
            self._transcript.append(("assistant", text))

    # -- audio ---------------------------------------------------------------------------

    @property
    def spoken(self) -> frozenset[str]:
        """The responses that sent reply audio."""
        return frozenset(self._spoken)

    @property
    def dropped(self) -> frozenset[str]:
        """The responses whose late audio is not played (interrupted or abandoned)."""
        return frozenset(self._dropped)

    def plays(self, response_id: str) -> bool:
        return response_id not in self._dropped

    def spoke(self, response_id: str) -> bool:
        return response_id in self._spoken

    def audio(self, response_id: str, item_id: str, ms: float) -> None:
        """``ms`` of reply audio came for ``item_id`` of ``response_id``."""
        self._spoken.add(response_id)
        items = self._reply_items.setdefault(response_id, [])
        if item_id not in items:
            items.append(item_id)
        self._received_ms[item_id] = self._received_ms.get(item_id, 0.0) + ms
        self._last_reply = response_id

    def drop(self, response_id: str) -> None:
        self._dropped.add(response_id)

    # -- barge-in ------------------------------------------------------------------------

    def interrupt(self, now_ms: float) -> tuple[str, ...]:
        """Barge-in, step 1: drop the last reply; its items, for the playback clock."""
        rid = self._last_reply
        items = tuple(self._reply_items.get(rid, ())) if rid is not None else ()
        if rid is not None:
            self._dropped.add(rid)  # late deltas of it are not played
        self._interrupt_at_ms = now_ms
        return items

    def cut_at(self, heard_ms: tuple[tuple[str, float], ...]) -> Cut | None:
        """Where to truncate: the first item with unheard audio (None: nothing to cut)."""
        for item_id, heard in heard_ms:
            received = self._received_ms.get(item_id, 0.0)
            point = truncate_point(heard, received)
            if point is not None:
                return Cut(item_id, point, point / received if received else 0.0)
        return None

    def cut(self, item_id: str, fraction: float) -> str | None:
        """Keep only ``fraction`` of the item's words: the words heard, or None when its
        words are still to come (they are cut when they do)."""
        self._heard_fraction[item_id] = fraction
        at = self._transcript_at.get(item_id)
        if at is None:
            return None
        heard = heard_prefix(self._transcript[at][1], fraction)
        self._transcript[at] = ("assistant", heard)
        return heard

    def interrupted(self, now_ms: float) -> tuple[int, float | None]:
        """Barge-in, step 2 done: the interruptions so far, and the ms from the ask to the
        speaker falling silent (None: not asked)."""
        self._interruptions += 1
        asked = self._interrupt_at_ms
        return self._interruptions, None if asked is None else round(now_ms - asked, 1)
