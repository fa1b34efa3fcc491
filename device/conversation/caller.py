"""The caller's side of a conversation: their turns, and the push-to-talk button.

Two small pure machines of one visitor (device/conversation/visitor.py). They keep the
books; the engine decides what the device does and which state it is in.
"""

from __future__ import annotations


class CallerTurns:
    """The caller's turns: open or not, which input items are theirs, which still wait for
    their words (transcription), and when the last turn ended (first-audio latency).

    Contract for the engine:

    - the caller starts speaking (the server heard it, or the button is held): ``start()``;
      a turn with no more speech: ``close()`` (True when it was open);
    - a turn ended (speech stopped, or a held turn committed): ``end_turn(now_ms)``, which
      numbers it; with ``item_id`` and ``transcribes`` its words are awaited;
    - an input item the server committed: ``committed(item_id, expect_words=...)``;
    - words came (or failed) for an item: ``words_came(item_id)``: True once none are
      awaited; words that will never come: ``forget_words()``;
    - on each piece of reply audio: ``first_audio(now_ms)`` is the turn's first-audio
      latency once per turn, else None.

    Example::

        caller = CallerTurns()
        caller.start("item_u1")
        n = caller.end_turn(2500.0, item_id="item_u1", transcribes=True)  # 1
        caller.first_audio(2950.0)  # 450.0, then None for the rest of the turn
    """

    def __init__(self) -> None:
        self._open = False  # the server heard the caller start and not yet stop
        self._items: set[str] = set()  # this visitor's input items
        self._untranscribed: set[str] = set()  # turns without words yet
        self._turns = 0
        self._stopped_at_ms: float | None = None
        self._first_audio_seen = True

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def turns(self) -> int:
        return self._turns

    @property
    def untranscribed(self) -> frozenset[str]:
        return frozenset(self._untranscribed)

    @property
    def waiting_for_words(self) -> bool:
        return bool(self._untranscribed)

    def owns(self, item_id: str) -> bool:
        return item_id in self._items

    def start(self, item_id: str | None = None) -> None:
        if item_id is not None:
            self._items.add(item_id)
        self._open = True

    def close(self) -> bool:
        """The turn is over (or dropped): True when it was open."""
        was_open, self._open = self._open, False
        return was_open

    def end_turn(
        self, now_ms: float, *, item_id: str | None = None, transcribes: bool = False
    ) -> int:
        """The caller finished a turn at ``now_ms``: its number."""
        if item_id is not None:
            self._items.add(item_id)
            if transcribes:
                self._untranscribed.add(item_id)
        self._stopped_at_ms = now_ms
        self._first_audio_seen = False
        self._turns += 1
        return self._turns

    def committed(self, item_id: str, *, expect_words: bool) -> None:
        """An input item committed by the server (a hand commit has no speech_stopped)."""
        if expect_words and item_id not in self._items:
            self._untranscribed.add(item_id)
        self._items.add(item_id)

    def words_came(self, item_id: str) -> bool:
        """The words of ``item_id`` came (or failed): True once no turn waits for words."""
        self._untranscribed.discard(item_id)
        return not self._untranscribed

    def forget_words(self) -> None:
        """Words that will not come (a new session, or the wait ran out)."""
        self._untranscribed.clear()

    def first_audio(self, now_ms: float) -> float | None:
        """The turn's first reply audio came at ``now_ms``: its latency, once per turn."""
        if self._first_audio_seen:
            return None
        self._first_audio_seen = True
        if self._stopped_at_ms is None:
            return None
        return round(now_ms - self._stopped_at_ms, 1)


class TalkButton:
    """Push-to-talk: the caller holds the button (the server's turn detection is off).

    Contract for the engine:

    - pressed before the session is ready: ``wait()``; once it is (or pressed later):
      ``begin()``, True when a held turn starts now (False: one is held already);
    - released: first ``early_release()`` (True: released before the session was ready,
      nothing was heard); else, if ``talking``, ``release()`` ends the held turn.

    Example::

        button = TalkButton()
        button.wait()  # pressed while connecting
        button.begin()  # True: the held turn starts
        button.release()
    """

    def __init__(self) -> None:
        self._talking = False
        self._pending = False

    @property
    def talking(self) -> bool:
        """The caller holds the button and a turn is held."""
        return self._talking

    @property
    def pending(self) -> bool:
        """Pressed before the session was ready."""
        return self._pending

    def wait(self) -> None:
        self._pending = True

    def begin(self) -> bool:
        self._pending = False
        if self._talking:
            return False
        self._talking = True
        return True

    def early_release(self) -> bool:
        if self._pending and not self._talking:
            self._pending = False
            return True
        return False

    def release(self) -> None:
        self._talking = False
