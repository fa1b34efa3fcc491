"""The farewell: a hand-over to a human, and a hang-up decided before it happens.

A small pure machine of one visitor (device/conversation/visitor.py). The model's end or
hand-over call decides the hang-up; the goodbye plays out first, and the engine ends the
conversation once the speaker is idle. It keeps the books; the engine decides.
"""

from __future__ import annotations

from device.conversation.reports import Outcome


class Farewell:
    """Whether the visitor was handed over, and the hang-up once it is decided.

    Contract for the engine:

    - a hand-over tool ran: ``hand_over()``; ``handed_over`` tells;
    - the conversation is to end once what is owed has played: ``decide(reason, outcome,
      since_ms)`` (``since_ms``: when the model's call came, to time the hang-up);
      ``decided`` is True from then, ``reason`` and ``outcome`` say why;
    - at the hang-up: ``hangup_ms(now_ms)`` is the ms from the model's call (None: none).

    Example::

        bye = Farewell()
        bye.decide("the caller said goodbye", Outcome.GOODBYE, since_ms=2800.0)
        bye.hangup_ms(4000.0)  # 1200.0
    """

    def __init__(self) -> None:
        self._handed_over = False
        self._reason: str | None = None
        self._outcome = Outcome.ENDED_BY_CALLER
        self._since_ms: float | None = None

    @property
    def handed_over(self) -> bool:
        return self._handed_over

    @property
    def decided(self) -> bool:
        return self._reason is not None

    @property
    def reason(self) -> str:
        return self._reason or ""

    @property
    def outcome(self) -> Outcome:
        return self._outcome

    def hand_over(self) -> None:
        self._handed_over = True

    def decide(self, reason: str, outcome: Outcome, since_ms: float | None = None) -> None:
        self._reason, self._outcome = reason, outcome
        if since_ms is not None:
            self._since_ms = since_ms

    def hangup_ms(self, now_ms: float) -> float | None:
        """From the model's end or hand-over call to ``now_ms`` (once; None: no call)."""
        if self._since_ms is None:
            return None
        since, self._since_ms = self._since_ms, None
        return round(now_ms - since, 1)
