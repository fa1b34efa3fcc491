"""Scenario files for the Realtime emulator: what the caller says and how the model answers.

A scenario is YAML (or the same structure as a dict for ``Scenario.from_dict``)::

    voice: en-us              # espeak-ng voice of the model's replies (default en-us)
    words_per_minute: 175     # espeak-ng speed (80..450, default 175)
    stream_speed: 10          # reply audio streams this many times faster than real time;
                              # 0 = as fast as possible (default 10)
    chunk_ms: 100             # ms of reply audio per response.output_audio.delta (default 100)
    greeting: Hello there.    # reply to a response.create that comes before any user turn
    fallback_reply: Sorry, I have nothing more to say.   # reply once the turns are used up
    faults:                   # global faults, timed from the start of each session
      - after_ms: 5000
        error: {code: server_error, message: The server had an error.}
    turns:
      - user: What are your opening hours?            # transcript of the caller's turn
        reply: We are open from nine to five.          # spoken by espeak-ng
      - user: Is order 1234 ready?
        tool_call: {name: order_status, arguments: {order_id: "1234"}}   # or `call:`
        reply: "The order system says {output}"        # {output}: the tool output the client sent
      - user: And the other one?
        tool_calls:                          # or `calls:`; two chained calls, one response each
          - {name: find_order, arguments: {name: Smith}}
          - {name: order_status, arguments: {order_id: "99"}}
        reply:                                         # first match wins
          - {if_output_contains: ready, say: It is ready.}
          - {say: "Not yet: {output}"}
        stall: 1500                                    # faults of this turn (see below)

A turn starts when the caller's audio is committed (by server VAD or by the client) or when
the client creates a user message item; its ``user`` text is what the input transcription
event reports (the audio itself comes from the client). Each ``response.create`` (or automatic
response) of a turn plays the turn's next step: its tool calls in order, then its reply. A
``function_call_output`` the client sends fills ``{output}`` of later steps (``{{`` / ``}}``
for literal braces). ``reply`` is a string or a list of ``{say, if_output_contains}``
choices tested against the latest tool output; the last one may omit the condition.

Faults (``tools.realtime_emulator.faults`` documents each): in a turn, one or more of
``error``, ``close``, ``drop``, ``stall``, ``stall_response``, ``malformed``, ``unknown_event``,
``rate_limits``, ``expire``, fired at the turn's ``fault_at`` (``commit``, ``created``, an
audio delta count, or ``done``; by default ``error`` at ``commit``, the others at
``created``); under ``faults:``, one fault each with ``after_ms``, timed from the start of
each session. ``connection:`` sets the handshake switches (``refuse``, ``refuse_times``,
``retry_after_s``, ``handshake_delay_ms``, ``created_delay_ms``; see `switches`).

The module is pure: parsing and validation only, no I/O besides ``Scenario.load``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from tools.realtime_emulator.checks import ScenarioError
from tools.realtime_emulator.checks import integer as _int
from tools.realtime_emulator.checks import kind as _kind
from tools.realtime_emulator.checks import known as _known
from tools.realtime_emulator.checks import mapping as _mapping
from tools.realtime_emulator.checks import text as _text
from tools.realtime_emulator.faults import (
    FAULT_KEYS,
    ClockFault,
    TurnFault,
    parse_clock_fault,
    parse_turn_faults,
)
from tools.realtime_emulator.switches import Switches

__all__ = ["Reply", "Scenario", "ScenarioError", "ToolCall", "Turn"]


@dataclass(frozen=True)
class ToolCall:
    """A function call the model makes; ``arguments`` is the JSON string sent."""

    name: str
    arguments: str


@dataclass(frozen=True)
class Reply:
    """A reply choice: ``say`` is used when ``if_output_contains`` is None or found."""

    say: str
    if_output_contains: str | None = None


@dataclass(frozen=True)
class Turn:
    """One caller turn and the model's steps for it."""

    user: str
    replies: tuple[Reply, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    faults: tuple[TurnFault, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario; build it with ``load`` or ``from_dict``."""

    turns: tuple[Turn, ...] = ()
    voice: str = "en-us"
    words_per_minute: int = 175
    stream_speed: float = 10.0
    chunk_ms: int = 100
    greeting: str | None = None
    fallback_reply: str = "Sorry, I have nothing more to say."
    faults: tuple[ClockFault, ...] = field(default_factory=tuple)
    connection: dict[str, Any] = field(default_factory=dict)  # Switches fields

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Read a YAML scenario; `ScenarioError` ("what is wrong", without the file name)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"cannot read the file: {exc.strerror or exc}") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ScenarioError(f"{where}invalid YAML: {problem}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Scenario:
        """Validate a scenario structure; `ScenarioError` names the key path at fault."""
        d = _mapping(data, "scenario")
        _known(
            d,
            "scenario",
            {
                "turns",
                "voice",
                "words_per_minute",
                "stream_speed",
                "chunk_ms",
                "greeting",
                "fallback_reply",
                "faults",
                "connection",
            },
        )
        turns_raw = d.get("turns", [])
        if not isinstance(turns_raw, list):
            raise ScenarioError(f"turns: expected a list of turns, got {_kind(turns_raw)}")
        wpm = _int(d.get("words_per_minute", 175), "words_per_minute", 80, 450)
        speed = d.get("stream_speed", 10)
        if isinstance(speed, bool) or not isinstance(speed, int | float) or speed < 0:
            raise ScenarioError(f"stream_speed: expected a number >= 0, got {speed!r}")
        faults_raw = d.get("faults", [])
        if not isinstance(faults_raw, list):
            raise ScenarioError(f"faults: expected a list, got {_kind(faults_raw)}")
        return cls(
            turns=tuple(_turn(t, f"turns[{i}]") for i, t in enumerate(turns_raw)),
            voice=_text(d.get("voice", "en-us"), "voice"),
            words_per_minute=wpm,
            stream_speed=float(speed),
            chunk_ms=_int(d.get("chunk_ms", 100), "chunk_ms", 10, 1000),
            greeting=None if d.get("greeting") is None else _text(d["greeting"], "greeting"),
            fallback_reply=_text(d.get("fallback_reply", cls.fallback_reply), "fallback_reply"),
            faults=tuple(parse_clock_fault(f, f"faults[{i}]") for i, f in enumerate(faults_raw)),
            connection=_connection(d.get("connection", {})),
        )

    def with_faults(
        self,
        clock: tuple[ClockFault, ...] = (),
        turns: dict[int, tuple[TurnFault, ...]] | None = None,
    ) -> Scenario:
        """A copy with more clock faults and more faults on turns (by index)."""
        extra = turns or {}
        for index in extra:
            if not 0 <= index < len(self.turns):
                raise ScenarioError(
                    f"turns[{index}]: no such turn (the scenario has {len(self.turns)})"
                )
        new_turns = tuple(
            replace(t, faults=t.faults + extra.get(i, ())) for i, t in enumerate(self.turns)
        )
        return replace(self, turns=new_turns, faults=self.faults + clock)

    def steps(self, turn_index: int) -> int:
        """Number of responses turn ``turn_index`` plays before its reply repeats."""
        return len(self.turns[turn_index].tool_calls) + 1


def pick_reply(replies: tuple[Reply, ...], output: str | None) -> str:
    """The first reply whose condition holds, with ``{output}`` replaced by the tool output."""
    for reply in replies:
        cond = reply.if_output_contains
        if cond is None or (output is not None and cond in output):
            return fill(reply.say, output)
    return ""


def fill(template: str, output: str | None) -> str:
    """Replace ``{output}``; ``{{``/``}}`` stand for literal braces."""
    return (
        template.replace("{{", "\0")
        .replace("}}", "\1")
        .replace("{output}", output if output is not None else "")
        .replace("\0", "{")
        .replace("\1", "}")
    )


# ---- validation helpers -------------------------------------------------------------------

_TURN_KEYS = {"user", "reply", "call", "calls", "tool_call", "tool_calls", "fault_at", *FAULT_KEYS}
_ALIASES = {"call": "tool_call", "calls": "tool_calls"}


def _tool_call(value: Any, path: str) -> ToolCall:
    d = _mapping(value, path)
    _known(d, path, {"name", "arguments"})
    if "name" not in d:
        raise ScenarioError(f"{path}: missing key 'name'")
    args = d.get("arguments", {})
    if isinstance(args, dict):
        arguments = json.dumps(args)
    elif isinstance(args, str):
        try:
            json.loads(args)
        except ValueError:
            raise ScenarioError(f"{path}.arguments: not valid JSON: {args!r}") from None
        arguments = args
    else:
        raise ScenarioError(f"{path}.arguments: expected a mapping, got {_kind(args)}")
    return ToolCall(name=_text(d["name"], f"{path}.name"), arguments=arguments)


def _replies(value: Any, path: str) -> tuple[Reply, ...]:
    if isinstance(value, str):
        return (Reply(say=_text(value, path)),)
    if not isinstance(value, list) or not value:
        raise ScenarioError(f"{path}: expected a string or a list of {{say, if_output_contains}}")
    out = []
    for i, item in enumerate(value):
        p = f"{path}[{i}]"
        d = _mapping(item, p)
        _known(d, p, {"say", "if_output_contains"})
        if "say" not in d:
            raise ScenarioError(f"{p}: missing key 'say'")
        cond = d.get("if_output_contains")
        out.append(
            Reply(
                say=_text(d["say"], f"{p}.say"),
                if_output_contains=None if cond is None else _text(cond, f"{p}.if_output_contains"),
            )
        )
    return tuple(out)


def _turn(value: Any, path: str) -> Turn:
    d = _mapping(value, path)
    _known(d, path, _TURN_KEYS)
    for alias, key in _ALIASES.items():
        if alias in d:
            if key in d:
                raise ScenarioError(f"{path}: use either {alias!r} or {key!r}, not both")
            d = {**{k: v for k, v in d.items() if k != alias}, key: d[alias]}
    if "user" not in d:
        raise ScenarioError(f"{path}: missing key 'user' (what the caller says)")
    if "tool_call" in d and "tool_calls" in d:
        raise ScenarioError(f"{path}: use either 'tool_call' or 'tool_calls', not both")
    calls: list[ToolCall] = []
    if "tool_call" in d:
        calls.append(_tool_call(d["tool_call"], f"{path}.tool_call"))
    if "tool_calls" in d:
        raw = d["tool_calls"]
        if not isinstance(raw, list) or not raw:
            raise ScenarioError(f"{path}.tool_calls: expected a non-empty list")
        calls += [_tool_call(c, f"{path}.tool_calls[{i}]") for i, c in enumerate(raw)]
    if "reply" not in d and not calls:
        raise ScenarioError(f"{path}: needs a 'reply' or a 'tool_call'")
    replies = _replies(d["reply"], f"{path}.reply") if "reply" in d else ()
    return Turn(
        user=_text(d["user"], f"{path}.user"),
        replies=replies,
        tool_calls=tuple(calls),
        faults=parse_turn_faults(d, path),
    )


def _connection(value: Any) -> dict[str, Any]:
    d = _mapping(value, "connection")
    Switches().update(d, "connection")  # validates
    return dict(d)
