"""FAQ answers, pure: a question in, the best-scoring entry's answer (or a no-answer) out.

Scoring: each keyword (a word or a short phrase) found in the question scores its number
of words; words match regardless of case, punctuation and a plural ``s``. The best entry
wins if it reaches ``min_score``; entries tied for best are all given.

Example::

    faq = Faq(((("hours", "open"), "We open at 8."),), min_score=1)
    faq.answer("When do you open?")   # FaqAnswer(text="We open at 8.", matched=True)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from device.tools.settings import FaqTool

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "question": {
            "type": "string",
            "description": "The caller's question in a few words, e.g. 'opening hours'.",
            "minLength": 1,
        }
    },
    "required": ["question"],
    "additionalProperties": False,
}


def _stem(word: str) -> str:
    word = word.removesuffix("'s")
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str) -> tuple[str, ...]:
    return tuple(_stem(w) for w in _WORD.findall(text.lower().replace("’", "'")))


def _count(tokens: Sequence[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return n > 0 and any(tuple(tokens[i : i + n]) == phrase for i in range(len(tokens) - n + 1))


@dataclass(frozen=True, slots=True)
class FaqAnswer:
    text: str
    matched: bool


class Faq:
    """A fixed list of (keywords, answer) entries."""

    def __init__(
        self, entries: Sequence[tuple[Sequence[str], str]], *, min_score: float = 1.0
    ) -> None:
        self._entries = [(tuple(words(k) for k in keys), answer) for keys, answer in entries]
        self._min_score = min_score

    def scores(self, question: str) -> list[float]:
        tokens = words(question)
        return [float(sum(len(k) for k in keys if _count(tokens, k))) for keys, _ in self._entries]

    def answer(self, question: str) -> FaqAnswer:
        scores = self.scores(question)
        best = max(scores, default=0.0)
        if best <= 0 or best < self._min_score:
            return FaqAnswer(
                "No answer in the official list for this question. Do not guess: tell the "
                "caller you do not know and offer to call a member of staff.",
                matched=False,
            )
        answers = [a for (_, a), s in zip(self._entries, scores, strict=True) if s == best]
        return FaqAnswer(" ".join(answers), matched=True)


def check_faq(item: FaqTool, where: str, _allow_hosts: tuple[str, ...] = ()) -> list[str]:
    """Config-time problems of one faq tool (pure)."""
    problems = []
    if not item.entries:
        problems.append(f"{where}.entries: add at least one entry (keywords and an answer)")
    for j, entry in enumerate(item.entries):
        if not any(words(k) for k in entry.keywords):
            problems.append(f"{where}.entries[{j}].keywords: must hold at least one word")
        if not entry.answer.strip():
            problems.append(f"{where}.entries[{j}].answer: must not be empty")
    return problems
