"""Guardrails, pure: per-conversation call limits and spoken confirmation.

Nothing here does I/O or reads the clock. The tool box calls, in this order:

1. ``CallLimits.take(name, max_calls)`` -> None, or the output telling the model to stop;
2. ``parse_arguments(validator, name, raw)`` (device/tools/schema.py) -> (arguments, None)
   or (None, one-line error);
3. for tools marked ``confirm``: ``Confirmations.check(name, arguments, transcript)`` ->
   ``Decision.RUN``, ``Decision.ASK`` (read back and ask first) or ``Decision.DECLINED``.

Confirmation rule: a confirm tool runs only when the model called it before with the same
arguments (and was told to read back and ask), the assistant spoke after that (the
read-back), and the caller's latest utterance, after the read-back, is a yes (with no no).

Example::

    book = Confirmations(yes_words=("yes",), no_words=("no",))
    book.check("close_job", {"job_id": "4172"}, transcript)   # Decision.ASK: read back first
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

_WORD = re.compile(r"[a-z0-9']+")


@dataclass
class CallLimits:
    """Per-conversation call counts; ``start`` resets them."""

    max_calls_per_conversation: int
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0

    def start(self) -> None:
        self.counts.clear()
        self.total = 0

    def take(self, name: str, max_calls: int | None, *, counts_to_total: bool = True) -> str | None:
        """Count one call of ``name``; None if allowed, else the output for the model."""
        used = self.counts.get(name, 0)
        if max_calls is not None and used >= max_calls:
            return (
                f"{name} was already called {used} time{'s' if used != 1 else ''} in this "
                f"conversation, the most allowed. Do not call it again; help the caller "
                "without it."
            )
        if counts_to_total and self.total >= self.max_calls_per_conversation:
            return (
                f"Tool call limit reached ({self.max_calls_per_conversation} per "
                "conversation). Do not call tools again; help the caller without them or "
                "offer to call a member of staff."
            )
        self.counts[name] = used + 1
        if counts_to_total:
            self.total += 1
        return None


class Decision(enum.Enum):
    RUN = "run"  # the caller said yes to the read-back
    ASK = "ask"  # read back and ask first
    DECLINED = "declined"  # the caller said no


def _phrases(words: Iterable[str]) -> list[tuple[str, ...]]:
    return [tuple(_WORD.findall(w.lower())) for w in words if _WORD.findall(w.lower())]


def shared_phrases(yes_words: Iterable[str], no_words: Iterable[str]) -> list[str]:
    """Phrases in both lists (as the matcher sees them): such a word can never mean yes."""
    no = set(_phrases(no_words))
    return [" ".join(p) for p in dict.fromkeys(_phrases(yes_words)) if p in no]


def _contains(tokens: Sequence[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(tokens[i : i + n]) == phrase for i in range(len(tokens) - n + 1))


def answer_of(text: str, yes: Sequence[tuple[str, ...]], no: Sequence[tuple[str, ...]]) -> str:
    """'yes', 'no' or '' for an utterance; any no word beats a yes ("yes... no, wait")."""
    tokens = _WORD.findall(text.lower().replace("’", "'"))
    if any(_contains(tokens, p) for p in no):
        return "no"
    if any(_contains(tokens, p) for p in yes):
        return "yes"
    return ""


def arguments_key(arguments: dict[str, Any]) -> str:
    """A canonical text of the arguments, to tell a repeated call from a changed one."""
    return json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Confirmations:
    """Pending spoken confirmations of one conversation (``start`` clears them)."""

    def __init__(self, *, yes_words: Iterable[str], no_words: Iterable[str]) -> None:
        self._yes = _phrases(yes_words)
        self._no = _phrases(no_words)
        # (tool name, arguments key) -> transcript length when the model was told to ask
        self._asked: dict[tuple[str, str], int] = {}

    def start(self) -> None:
        self._asked.clear()

    def check(
        self,
        name: str,
        arguments: dict[str, Any],
        transcript: Sequence[tuple[str, str]],
    ) -> Decision:
        key = (name, arguments_key(arguments))
        asked_at = self._asked.get(key)
        if asked_at is not None and asked_at <= len(transcript):
            decision = self._answer_since(transcript, asked_at)
            if decision is not Decision.ASK:
                del self._asked[key]
                return decision
        if asked_at is None or asked_at > len(transcript):
            # not asked yet with these arguments: ask, and count answers from here on
            self._asked = {k: v for k, v in self._asked.items() if k[0] != name}
            self._asked[key] = len(transcript)
        return Decision.ASK

    def _answer_since(self, transcript: Sequence[tuple[str, str]], start: int) -> Decision:
        """The caller's answer to a read-back spoken after ``transcript[start]``."""
        later = list(transcript[start:])
        if not later or later[-1][0] != "user":
            return Decision.ASK
        read_back = max((i for i, (role, _) in enumerate(later) if role == "assistant"), default=-1)
        if read_back < 0:
            return Decision.ASK
        match answer_of(later[-1][1], self._yes, self._no):
            case "yes":
                return Decision.RUN
            case "no":
                return Decision.DECLINED
        return Decision.ASK


def ask_output(name: str) -> str:
    return (
        f"Not done yet: {name} needs the caller's spoken yes. Read the details back to the "
        "caller (numbers digit by digit), ask them to confirm, and call "
        f"{name} again with the same arguments only after they say yes."
    )


def declined_output(name: str) -> str:
    return (
        f"The caller did not confirm, so {name} was not run. "
        "Ask what they would like to do instead."
    )
