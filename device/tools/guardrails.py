"""Guardrails, pure: argument checks, per-conversation call limits, spoken confirmation.

Nothing here does I/O or reads the clock. The tool box calls, in this order:

1. ``parse_arguments(validator, name, raw)`` -> (arguments, None) or (None, one-line error);
2. ``CallLimits.take(name, max_calls)`` -> None, or the output telling the model to stop;
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

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match

_WORD = re.compile(r"[a-z0-9']+")


def schema_problem(schema: dict[str, Any]) -> str | None:
    """None if ``schema`` is a usable parameters schema, else one line saying what is wrong."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        return f"not a valid JSON schema{' at ' + where if where else ''}: {_one_line(exc.message)}"
    if schema.get("type") != "object":
        return "must be a JSON schema with type: object"
    return None


def make_validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_arguments(
    validator: Draft202012Validator, name: str, raw: str
) -> tuple[dict[str, Any] | None, str | None]:
    """The arguments as a dict, or None and a one-line error for the model and the log."""
    try:
        value = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        return None, f"Invalid arguments for {name}: not JSON ({exc.msg}). Call it again."
    if not isinstance(value, dict):
        return None, f"Invalid arguments for {name}: must be a JSON object. Call it again."
    error: ValidationError | None = best_match(validator.iter_errors(value))
    if error is not None:
        where = error.json_path if error.absolute_path else "arguments"
        message = _one_line(error.message)
        return None, (
            f"Invalid arguments for {name}: {where}: {message}. "
            "Ask the caller for what is missing or wrong, then call it again."
        )
    return value, None


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
