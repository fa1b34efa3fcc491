"""One Realtime session as a pure state machine: client events in, server events out.

Contract (sans-I/O, like websockets' protocol objects):

- ``opening(now_s)`` gives ``session.created``.
- ``receive(event)`` takes one parsed client event and returns actions in order: ``Send``
  (a server event dict) or ``Stream`` (a response was created; the caller waits the latency,
  sends its ``response.created``, applies the plan's faults, then the streaming steps below,
  and stops once ``is_active`` is false).
- Streaming steps for the active response, each returning server events: ``begin_message``,
  ``message_chunk`` (per audio chunk or text piece), ``end_message``, ``function_call``,
  ``finish``. They return ``[]`` when the response is no longer active (it was cancelled).
- ``bad_json`` / ``error`` build error events; ``stamp`` gives any event an ``event_id``.

Time never enters: input audio is measured in ms of audio appended since the session began.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from dataclasses import dataclass, field
from typing import Any

from tools.realtime_emulator import events as ev
from tools.realtime_emulator.scenario import Fault, Scenario, ToolCall, fill, pick_reply
from tools.realtime_emulator.vad import BYTES_PER_MS, EnergyVad, SpeechStart, VadParams

MIN_COMMIT_MS = 100


@dataclass(frozen=True)
class Plan:
    """What a response says: ``text`` (spoken or written) or a ``tool_call``; faults first."""

    text: str = ""
    tool_call: ToolCall | None = None
    faults: tuple[Fault, ...] = ()


@dataclass(frozen=True)
class Send:
    event: dict[str, Any]


@dataclass(frozen=True)
class Stream:
    """A response started: the player sends ``created`` (after the latency), then plays."""

    response_id: str
    plan: Plan
    created: dict[str, Any]


Action = Send | Stream


@dataclass
class _Item:
    item: dict[str, Any]
    audio_ms: float = 0.0  # assistant audio sent so far (what truncate may cut)


@dataclass
class _Response:
    id: str
    plan: Plan
    output: list[dict[str, Any]] = field(default_factory=list)
    item: dict[str, Any] | None = None
    audio_bytes: int = 0
    text: str = ""


class RealtimeSession:
    """The conversation state of one connection. See the module docstring."""

    def __init__(self, scenario: Scenario, *, model: str, session_no: int = 1) -> None:
        self.scenario = scenario
        self.ids = ev.Ids(session_no)
        self.session_id = self.ids.next("sess")
        self.config = ev.default_session(model)
        self.vad = EnergyVad(self._vad_params())
        self.input_bytes = 0
        self._buffer_start_ms = 0.0
        self._speech_item: str | None = None
        self._speech_start_ms = 0
        self.items: dict[str, _Item] = {}
        self.response: _Response | None = None
        self._turn = -1
        self._step = 0
        self._last_output: str | None = None
        self._calls: set[str] = set()
        self._ctx_audio_tokens = 0
        self._ctx_text_tokens = 0

    # ---- helpers ------------------------------------------------------------------------

    @property
    def input_ms(self) -> float:
        """Ms of input audio appended since the session began (the VAD timeline)."""
        return self.input_bytes / BYTES_PER_MS

    def stamp(self, event: dict[str, Any]) -> dict[str, Any]:
        return {"event_id": self.ids.next("event"), **event}

    def error(
        self,
        code: str | None,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        body = ev.error_body(code, message, type=type, param=param, event_id=event_id)
        return self.stamp({"type": "error", "error": body})

    def bad_json(self) -> list[Action]:
        msg = "The server could not parse the message: it is not valid JSON."
        return [Send(self.error("invalid_json", msg))]

    def is_active(self, response_id: str) -> bool:
        return self.response is not None and self.response.id == response_id

    def _session_payload(self, now_s: float | None) -> dict[str, Any]:
        payload = {"object": "realtime.session", "id": self.session_id, **self.config}
        if now_s is not None:
            payload["expires_at"] = int(now_s) + 3600
        return payload

    def _vad_params(self) -> VadParams:
        td = self.config["audio"]["input"].get("turn_detection") or {}
        if td.get("type") == "server_vad":
            return VadParams(
                threshold=float(td.get("threshold", 0.5)),
                prefix_padding_ms=int(td.get("prefix_padding_ms", 300)),
                silence_duration_ms=int(td.get("silence_duration_ms", 500)),
            )
        return VadParams()

    def _turn_detection(self) -> dict[str, Any] | None:
        td = self.config["audio"]["input"].get("turn_detection")
        return td if isinstance(td, dict) else None

    def _last_item_id(self) -> str | None:
        return next(reversed(self.items), None)

    def _add_item(self, item: dict[str, Any], previous: str | None = None) -> list[Action]:
        prev = previous if previous is not None else self._last_item_id()
        self.items[item["id"]] = _Item(item)
        return [
            Send(
                self.stamp(
                    {
                        "type": "conversation.item.added",
                        "previous_item_id": prev,
                        "item": copy.deepcopy(item),
                    }
                )
            ),
            Send(
                self.stamp(
                    {
                        "type": "conversation.item.done",
                        "previous_item_id": prev,
                        "item": copy.deepcopy(item),
                    }
                )
            ),
        ]

    # ---- entry points -------------------------------------------------------------------

    def opening(self, now_s: float) -> dict[str, Any]:
        return self.stamp({"type": "session.created", "session": self._session_payload(now_s)})

    def receive(self, event: Any) -> list[Action]:
        if not isinstance(event, dict):
            return [Send(self.error("invalid_json", "Expected a JSON object as the message."))]
        etype = event.get("type")
        eid = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        handler = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit_manual,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._item_create,
            "conversation.item.truncate": self._truncate,
            "conversation.item.delete": self._delete,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }.get(etype if isinstance(etype, str) else "")
        if handler is not None:
            return handler(event, eid)
        if etype in ev.CLIENT_EVENT_TYPES:
            msg = f"The emulator does not support '{etype}'."
            return [Send(self.error("unsupported_event", msg, param="type", event_id=eid))]
        if etype is None:
            msg = "Missing required parameter: 'type'."
            return [Send(self.error("missing_required_parameter", msg, param="type", event_id=eid))]
        supported = ", ".join(f"'{t}'" for t in ev.CLIENT_EVENT_TYPES)
        msg = f"Invalid value: '{etype}'. Supported values are: {supported}."
        return [Send(self.error("invalid_value", msg, param="type", event_id=eid))]

    # ---- session ------------------------------------------------------------------------

    def _session_update(self, event: dict[str, Any], eid: str | None) -> list[Action]:
        session = event.get("session")
        if not isinstance(session, dict):
            msg = "Missing required parameter: 'session'."
            return [
                Send(self.error("missing_required_parameter", msg, param="session", event_id=eid))
            ]
        for key in ev.BETA_SESSION_KEYS:
            if key in session:
                p = f"session.{key}"
                return [
                    Send(
                        self.error(
                            "unknown_parameter", f"Unknown parameter: '{p}'.", param=p, event_id=eid
                        )
                    )
                ]
        if "type" not in session:
            msg = "Missing required parameter: 'session.type'."
            return [
                Send(
                    self.error(
                        "missing_required_parameter", msg, param="session.type", event_id=eid
                    )
                )
            ]
        if session["type"] != "realtime":
            msg = f"Invalid value: '{session['type']}'. Supported values are: 'realtime'."
            return [Send(self.error("invalid_value", msg, param="session.type", event_id=eid))]
        self.config = ev.merge_session(self.config, session)
        self.vad.params = self._vad_params()
        return [
            Send(self.stamp({"type": "session.updated", "session": self._session_payload(None)}))
        ]

    # ---- input audio --------------------------------------------------------------------

    def _append(self, event: dict[str, Any], eid: str | None) -> list[Action]:
        audio = event.get("audio")
        try:
            pcm = base64.b64decode(audio, validate=True) if isinstance(audio, str) else None
        except (binascii.Error, ValueError):
            pcm = None
        if pcm is None:
            msg = "Invalid 'audio'. Expected base64-encoded audio bytes."
            return [Send(self.error("invalid_value", msg, param="audio", event_id=eid))]
        self.input_bytes += len(pcm)
        td = self._turn_detection()
        if td is None:
            return []
        actions: list[Action] = []
        for change in self.vad.feed(pcm):
            if isinstance(change, SpeechStart):
                actions += self._speech_started(change.audio_start_ms, td)
            else:
                actions += self._speech_stopped(change.audio_end_ms, td)
        return actions

    def _speech_started(self, start_ms: int, td: dict[str, Any]) -> list[Action]:
        self._speech_item = self.ids.next("item")
        self._speech_start_ms = start_ms
        actions: list[Action] = [
            Send(
                self.stamp(
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": start_ms,
                        "item_id": self._speech_item,
                    }
                )
            )
        ]
        if td.get("interrupt_response", True) and self.response is not None:
            actions += [Send(e) for e in self._cancel("turn_detected")]
        return actions

    def _speech_stopped(self, end_ms: int, td: dict[str, Any]) -> list[Action]:
        item_id = self._speech_item or self.ids.next("item")
        self._speech_item = None
        actions: list[Action] = [
            Send(
                self.stamp(
                    {
                        "type": "input_audio_buffer.speech_stopped",
                        "audio_end_ms": end_ms,
                        "item_id": item_id,
                    }
                )
            )
        ]
        actions += self._commit(item_id, end_ms - self._speech_start_ms, floor_ms=end_ms)
        if td.get("create_response", True) and self.response is None:
            actions += self._start_response()
        return actions

    def _commit(self, item_id: str, audio_ms: float, floor_ms: float) -> list[Action]:
        prev = self._last_item_id()
        self._buffer_start_ms = floor_ms
        self.vad.reset(int(floor_ms))
        self._ctx_audio_tokens += int(audio_ms // 100)
        actions: list[Action] = [
            Send(
                self.stamp(
                    {
                        "type": "input_audio_buffer.committed",
                        "previous_item_id": prev,
                        "item_id": item_id,
                    }
                )
            )
        ]
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        actions += self._add_item(item, prev)
        errors = self._new_turn()
        if self.config["audio"]["input"].get("transcription") and 0 <= self._turn < len(
            self.scenario.turns
        ):
            text = self.scenario.turns[self._turn].user
            actions.append(
                Send(
                    self.stamp(
                        {
                            "type": "conversation.item.input_audio_transcription.completed",
                            "item_id": item_id,
                            "content_index": 0,
                            "transcript": text,
                            "usage": {"type": "duration", "seconds": round(audio_ms / 1000, 3)},
                        }
                    )
                )
            )
        return actions + errors

    def _commit_manual(self, event: dict[str, Any], eid: str | None) -> list[Action]:
        have = self.input_ms - self._buffer_start_ms
        if have < MIN_COMMIT_MS:
            msg = (
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {have:.2f}ms of audio."
            )
            return [Send(self.error("input_audio_buffer_commit_empty", msg, event_id=eid))]
        self._speech_item = None
        return self._commit(self.ids.next("item"), have, floor_ms=self.input_ms)

    def _clear(self, event: dict[str, Any], eid: str | None) -> list[Action]:
        self._buffer_start_ms = self.input_ms
        self._speech_item = None
        self.vad.reset(int(self.input_ms))
        return [Send(self.stamp({"type": "input_audio_buffer.cleared"}))]

    # ---- conversation items -------------------------------------------------------------

    def _new_turn(self) -> list[Action]:
        """Start the next scenario turn; its ``error`` faults are sent right away."""
        self._turn += 1
        self._step = 0
        self._last_output = None
        if not 0 <= self._turn < len(self.scenario.turns):
            return []
        return [
            Send(self.error(f.error_code, f.error_message, type=f.error_type))
            for f in self.scenario.turns[self._turn].faults
            if f.error_code is not None
        ]

    def _item_create(self, event: dict[str, Any], eid: str | None) -> list[Action]:
        item = event.get("item")
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            msg = "Missing required parameter: 'item.type'."
            return [
                Send(self.error("missing_required_parameter", msg, param="item.type", event_id=eid))
            ]
        item = copy.deepcopy(item)
        item_id = item.get("id") or self.ids.next("item")
        if item_id in self.items:
            msg = f"Item with id '{item_id}' already exists."
            return [Send(self.error("invalid_value", msg, param="item.id", event_id=eid))]
        item.update(id=item_id, object="realtime.item", status="completed")
        if item["type"] == "function_call_output":
            call_id = item.get("call_id")
            if call_id not in self._calls:
                msg = f"Tool call ID '{call_id}' not found in conversation."
                return [Send(self.error("invalid_value", msg, param="item.call_id", event_id=eid))]
            self._last_output = str(item.get("output", ""))
            self._ctx_text_tokens += ev.text_tokens(self._last_output)
        elif item["type"] == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    self._ctx_text_tokens += ev.text_tokens(part["text"])
        actions = self._add_item(item, event.get("previous_item_id"))
        if item["type"] == "message" and item.get("role") == "user":
            actions += self._new_turn()
        return actions

    def _truncate(self, event: dict[str, Any], eid: str | None) -> list[Action]:
        item_id, end_ms = event.get("item_id"), event.get("audio_end_ms")
        index = event.get("content_index", 0)
        entry = self.items.get(item_id) if isinstance(item_id, str) else None
        if entry is None:
            msg = f"Item with item_id '{item_id}' not found."
            return [Send(self.error("invalid_value", msg, param="item_id", event_id=eid))]
        item = entry.item
        if item.get("role") != "assistant" or not entry.audio_ms:
            msg = "Only model output audio messages can be truncated"
            return [
                Send(self.error("unsupported_content_type", msg, param="item_id", event_id=eid))
            ]
        if index != 0:
            msg = f"Invalid 'content_index': {index}. The item has one content part."
            return [Send(self.error("invalid_value", msg, param="content_index", event_id=eid))]
        if not isinstance(end_ms, int) or isinstance(end_ms, bool) or end_ms < 0:
            msg = f"Invalid 'audio_end_ms': {end_ms!r}. Expected a non-negative integer."
            return [Send(self.error("invalid_value", msg, param="audio_end_ms", event_id=eid))]
        if end_ms > entry.audio_ms:
            msg = f"Audio content of {int(entry.audio_ms)}ms is already shorter than {end_ms}ms"
            return [Send(self.error("invalid_value", msg, param="audio_end_ms", event_id=eid))]
        entry.audio_ms = float(end_ms)
        for part in item.get("content", []):
            part["transcript"] = ""
        return [
            Send(
                self.stamp(
                    {
                        "type": "conversation.item.truncated",
                        "item_id": item_id,
                        "content_index": 0,
                        "audio_end_ms": end_ms,
                    }
                )
            )
        ]

    def _delete(self, event: dict[str, Any], eid: str | None) -> list[Action]:
        item_id = event.get("item_id")
        if not isinstance(item_id, str) or item_id not in self.items:
            msg = f"Item with item_id '{item_id}' not found."
            return [Send(self.error("invalid_value", msg, param="item_id", event_id=eid))]
        del self.items[item_id]
        return [Send(self.stamp({"type": "conversation.item.deleted", "item_id": item_id}))]

    # ---- responses ----------------------------------------------------------------------

    def _response_create(self, event: dict[str, Any], eid: str | None) -> list[Action]:
        if self.response is not None:
            msg = (
                "Conversation already has an active response in progress: "
                f"{self.response.id}. Wait until the response is finished before creating a "
                "new one."
            )
            return [Send(self.error("conversation_already_has_active_response", msg, event_id=eid))]
        return self._start_response()

    def _response_cancel(self, event: dict[str, Any], eid: str | None) -> list[Action]:
        wanted = event.get("response_id")
        if self.response is None or (wanted is not None and wanted != self.response.id):
            msg = "Cancellation failed: no active response found"
            return [Send(self.error("response_cancel_not_active", msg, event_id=eid))]
        return [Send(e) for e in self._cancel("client_cancelled")]

    def _next_plan(self) -> Plan:
        sc = self.scenario
        if self._turn < 0:
            return Plan(text=sc.greeting or sc.fallback_reply)
        if self._turn >= len(sc.turns):
            return Plan(text=sc.fallback_reply)
        turn = sc.turns[self._turn]
        faults = tuple(f for f in turn.faults if f.error_code is None) if self._step == 0 else ()
        step = self._step
        self._step += 1
        if step < len(turn.tool_calls):
            return Plan(tool_call=turn.tool_calls[step], faults=faults)
        if turn.replies:
            text = pick_reply(turn.replies, self._last_output) or sc.fallback_reply
        else:
            text = fill("{output}", self._last_output) or sc.fallback_reply
        return Plan(text=text, faults=faults)

    def _start_response(self) -> list[Action]:
        resp = _Response(id=self.ids.next("resp"), plan=self._next_plan())
        self.response = resp
        obj = ev.response_object(resp.id, self.config, status="in_progress", output=[])
        return [
            Stream(resp.id, resp.plan, self.stamp({"type": "response.created", "response": obj}))
        ]

    def _audio_out(self) -> bool:
        return "text" not in (self.config.get("output_modalities") or ["audio"])

    def begin_message(self, response_id: str) -> list[dict[str, Any]]:
        """Open the assistant message item and its content part."""
        r = self.response
        if r is None or r.id != response_id:
            return []
        audio = self._audio_out()
        r.item = {
            "id": self.ids.next("item"),
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        self.items[r.item["id"]] = _Item(r.item)
        part = {"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""}
        added = self.stamp({"type": "response.content_part.added", **self._where(r), "part": part})
        return [*self._item_opened(r), added]

    def message_chunk(self, response_id: str, pcm: bytes, text: str) -> list[dict[str, Any]]:
        """One piece of the reply: audio (may be empty in text mode) and its transcript text."""
        r = self.response
        if r is None or r.id != response_id or r.item is None:
            return []
        out: list[dict[str, Any]] = []
        if self._audio_out():
            if pcm:
                r.audio_bytes += len(pcm)
                self.items[r.item["id"]].audio_ms = r.audio_bytes / BYTES_PER_MS
                delta = base64.b64encode(pcm).decode("ascii")
                out.append(
                    self.stamp(
                        {"type": "response.output_audio.delta", **self._where(r), "delta": delta}
                    )
                )
            if text:
                out.append(
                    self.stamp(
                        {
                            "type": "response.output_audio_transcript.delta",
                            **self._where(r),
                            "delta": text,
                        }
                    )
                )
        elif text:
            out.append(
                self.stamp({"type": "response.output_text.delta", **self._where(r), "delta": text})
            )
        r.text += text
        return out

    def end_message(self, response_id: str) -> list[dict[str, Any]]:
        """Close the content part and the item."""
        r = self.response
        if r is None or r.id != response_id or r.item is None:
            return []
        w = self._where(r)
        if self._audio_out():
            out = [
                self.stamp({"type": "response.output_audio.done", **w}),
                self.stamp(
                    {"type": "response.output_audio_transcript.done", **w, "transcript": r.text}
                ),
                self.stamp(
                    {
                        "type": "response.content_part.done",
                        **w,
                        "part": {"type": "audio", "transcript": r.text},
                    }
                ),
            ]
            r.item["content"] = [{"type": "output_audio", "transcript": r.text}]
        else:
            out = [
                self.stamp({"type": "response.output_text.done", **w, "text": r.text}),
                self.stamp(
                    {
                        "type": "response.content_part.done",
                        **w,
                        "part": {"type": "text", "text": r.text},
                    }
                ),
            ]
            r.item["content"] = [{"type": "output_text", "text": r.text}]
        r.item["status"] = "completed"
        return out + self._item_closed(r)

    def function_call(self, response_id: str) -> list[dict[str, Any]]:
        """The whole function-call item: added, argument deltas, done."""
        r = self.response
        if r is None or r.id != response_id or r.plan.tool_call is None:
            return []
        call = r.plan.tool_call
        call_id = self.ids.next("call")
        self._calls.add(call_id)
        r.item = {
            "id": self.ids.next("item"),
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": call.name,
            "call_id": call_id,
            "arguments": "",
        }
        self.items[r.item["id"]] = _Item(r.item)
        out = self._item_opened(r)
        base = {
            "response_id": r.id,
            "item_id": r.item["id"],
            "output_index": len(r.output),
            "call_id": call_id,
        }
        half = len(call.arguments) // 2
        for piece in (call.arguments[:half], call.arguments[half:]):
            if piece:
                out.append(
                    self.stamp(
                        {"type": "response.function_call_arguments.delta", **base, "delta": piece}
                    )
                )
        out.append(
            self.stamp(
                {
                    "type": "response.function_call_arguments.done",
                    **base,
                    "name": call.name,
                    "arguments": call.arguments,
                }
            )
        )
        r.item.update(arguments=call.arguments, status="completed")
        r.text = call.name + call.arguments
        return out + self._item_closed(r)

    def finish(self, response_id: str) -> list[dict[str, Any]]:
        """``response.done`` (completed) and ``rate_limits.updated``."""
        r = self.response
        if r is None or r.id != response_id:
            return []
        return self._done(r, "completed", None)

    def _cancel(self, reason: str) -> list[dict[str, Any]]:
        r = self.response
        if r is None:
            return []
        out: list[dict[str, Any]] = []
        if r.item is not None:
            r.item["status"] = "incomplete"
            if r.item["type"] == "message":
                key = "transcript" if self._audio_out() else "text"
                kind = "output_audio" if self._audio_out() else "output_text"
                r.item["content"] = [{"type": kind, key: r.text}]
            out += self._item_closed(r)
        return out + self._done(r, "cancelled", {"type": "cancelled", "reason": reason})

    def _done(
        self, r: _Response, status: str, details: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        in_text = ev.text_tokens(str(self.config.get("instructions") or "")) + self._ctx_text_tokens
        in_text += ev.text_tokens(json.dumps(self.config.get("tools") or []))
        out_audio = int(r.audio_bytes / BYTES_PER_MS // 50)  # about 20 tokens per second
        out_text = ev.text_tokens(r.text)
        use = ev.usage(self._ctx_audio_tokens, in_text, out_audio, out_text)
        self._ctx_audio_tokens += out_audio
        self._ctx_text_tokens += out_text
        obj = ev.response_object(
            r.id, self.config, status=status, output=r.output, status_details=details, usage_=use
        )
        self.response = None
        return [
            self.stamp({"type": "response.done", "response": obj}),
            self.stamp({"type": "rate_limits.updated", "rate_limits": ev.rate_limits()}),
        ]

    def _where(self, r: _Response) -> dict[str, Any]:
        assert r.item is not None
        return {
            "response_id": r.id,
            "item_id": r.item["id"],
            "output_index": len(r.output),
            "content_index": 0,
        }

    def _item_opened(self, r: _Response) -> list[dict[str, Any]]:
        assert r.item is not None
        prev = [k for k in self.items if k != r.item["id"]]
        item = copy.deepcopy(r.item)
        return [
            self.stamp(
                {
                    "type": "response.output_item.added",
                    "response_id": r.id,
                    "output_index": len(r.output),
                    "item": item,
                }
            ),
            self.stamp(
                {
                    "type": "conversation.item.added",
                    "previous_item_id": prev[-1] if prev else None,
                    "item": copy.deepcopy(item),
                }
            ),
        ]

    def _item_closed(self, r: _Response) -> list[dict[str, Any]]:
        assert r.item is not None
        item = copy.deepcopy(r.item)
        prev = [k for k in self.items if k != item["id"]]
        out = [
            self.stamp(
                {
                    "type": "response.output_item.done",
                    "response_id": r.id,
                    "output_index": len(r.output),
                    "item": item,
                }
            ),
            self.stamp(
                {
                    "type": "conversation.item.done",
                    "previous_item_id": prev[-1] if prev else None,
                    "item": copy.deepcopy(item),
                }
            ),
        ]
        r.output.append(item)
        r.item = None
        return out
