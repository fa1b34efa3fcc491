"""Disclosure and consent, pure: the AI-disclosure line said as each conversation starts,
the recording-consent question after it, and the caller's answer read from their words.

- ``greet(consent, disclosure, rule, out)``: as a visitor comes, the ``disclosure`` prompt (and the
  ``consent`` question after it, queued on the speaker) is played at once, while the
  session is made ready. Nothing waits for it: the session is asked for first, the upload
  starts as soon as the session is set up, and the caller may talk over either prompt.
- ``heard(consent, rule, text, out)``: the caller's first transcript after the question
  (``text``; None: their words could not be transcribed) decides whether this
  conversation is recorded: a yes word is `ConsentAnswered(True, "caller")`, a no word
  `ConsentAnswered(False, "caller")` (a no beats a yes, as in the tool read-back), neither
  `ConsentAnswered(False, "no clear answer")`. The caller's turn is never swallowed: the
  model answers those words as any other (its instructions say the device asked).
- ``instructions(disclosure, question)``: the lines the device adds to every session's
  instructions: always that the model says truthfully it is an AI when asked; and what the
  device itself said at the start, so the model neither repeats it nor takes its echo
  for the caller.

Words are matched as device/tools/guardrails.py matches a read-back's yes and no
(`answer_of`: lower-case word tokens, phrases as runs of them).

Example::

    rule = ConsentRule.of(("yes",), ("no",))
    greet(visitor.consent, True, rule, out)   # PlayPrompt("disclosure"), PlayPrompt("consent")
    heard(visitor.consent, rule, "yes, go ahead", out)  # ConsentAnswered(True, "caller")
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from device.conversation.commands import PlayPrompt
from device.conversation.outputs import Output
from device.conversation.reports import ConsentAnswered
from device.tools.guardrails import answer_of

DISCLOSURE_PROMPT = "disclosure"
CONSENT_PROMPT = "consent"
UNCLEAR = "no clear answer"  # the source of a ConsentAnswered(False) nobody said
AI_TRUTH = (
    "You are an AI voice assistant, not a person. If the caller asks whether you are a "
    "person, a human, a machine or a recording, say truthfully that you are an AI "
    "assistant; never claim or pretend to be human."
)

_WORD = re.compile(r"[a-z0-9']+")  # the tokens of guardrails.answer_of


def _phrases(words: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(p for w in words if (p := tuple(_WORD.findall(w.lower()))))


@dataclass(frozen=True)
class ConsentRule:
    """The consent question is asked; these phrases (word tokens) answer it."""

    yes: tuple[tuple[str, ...], ...]
    no: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, yes_words: Iterable[str], no_words: Iterable[str]) -> ConsentRule:
        return cls(_phrases(yes_words), _phrases(no_words))

    def answer(self, text: str | None) -> ConsentAnswered:
        """The report a transcript (None: none came) makes: yes, no, or no clear answer."""
        said = answer_of(text, self.yes, self.no) if text is not None else ""
        if said == "yes":
            return ConsentAnswered(True, "caller")
        if said == "no":
            return ConsentAnswered(False, "caller")
        return ConsentAnswered(False, UNCLEAR)


@dataclass
class Consent:
    """One visitor's consent question: asked (as the visit began), then answered once."""

    asked: bool = False
    answered: bool = False

    @property
    def awaited(self) -> bool:
        """The question was asked and the caller's answer is still to come."""
        return self.asked and not self.answered


def greet(consent: Consent, disclosure: bool, rule: ConsentRule | None, out: list[Output]) -> None:
    """A visitor comes: the disclosure said at once (``disclosure``), then the consent
    question (``rule``: not None); both only queued on the speaker, nothing waits for them."""
    if disclosure:
        out.append(PlayPrompt(DISCLOSURE_PROMPT))
    if rule is not None:
        consent.asked = True
        out.append(PlayPrompt(CONSENT_PROMPT))


def heard(consent: Consent, rule: ConsentRule | None, text: str | None, out: list[Output]) -> None:
    """The caller's words came (``text``; None: they could not be transcribed): the first
    after the question answer it (reported once); the conversation goes on either way."""
    if rule is None or not consent.awaited:
        return
    consent.answered = True
    out.append(rule.answer(text))


def instructions(disclosure: str | None, question: str | None) -> str:
    """The device's lines for the session's instructions (``question``: None when the
    consent question is not asked)."""
    lines = [AI_TRUTH]
    said = " ".join((disclosure or "").split())
    asked = " ".join((question or "").split())
    if said:
        lines.append(
            f'The device itself says to each caller as the conversation starts: "{said}". '
            "Do not repeat it; if you hear those words, they are the device's, not the caller's."
        )
    if asked:
        lines.append(
            f'The device then asks the caller: "{asked}" and reads their answer itself. '
            "The caller's first words may answer it: acknowledge a yes or a no in a few "
            "words and offer your help; never ask that question again."
        )
    return "\n".join(lines)
