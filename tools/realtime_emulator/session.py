"""One Realtime session as a pure state machine: client events in, server events out.

Contract (sans-I/O, like websockets' protocol objects):

- ``opening(now_s)`` gives ``session.created``.
- ``receive(event)`` takes one parsed client event and returns actions in order: ``Send``
  (a server event dict), ``Fire`` (a scripted fault to apply now) or ``Stream`` (a response
  was created; the caller waits the latency, sends its ``response.created``, then plays it
  with the streaming steps of ``self.responses``, see `responses`, and stops once
  ``is_active`` is false).
- ``bad_json`` / ``error`` build error events; ``stamp`` gives any event an ``event_id``.

The session dispatches each client event to the part that owns it: ``buffer`` (the input
audio buffer: VAD, commit, clear; `input_buffer`), ``conversation`` (the items; `items`),
``responses`` (`responses`) and ``script`` (where it is in the scenario; `script`). It keeps
the session config and ties the parts together: a speech stop commits the buffer, which adds
a user item, starts the next turn and, with ``create_response``, a response.

Time never enters: input audio is measured in ms of audio appended since the session began.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from tools.realtime_emulator import events as ev
from tools.realtime_emulator.faults import Fault
from tools.realtime_emulator.input_buffer import InputBuffer, SpeechStarted, vad_params
from tools.realtime_emulator.items import Conversation, Created
from tools.realtime_emulator.responses import Responses
from tools.realtime_emulator.scenario import Scenario
from tools.realtime_emulator.script import Plan, Script

__all__ = ["Action", "Fire", "Plan", "RealtimeSession", "Send", "Stream"]


@dataclass(frozen=True)
class Send:
    event: dict[str, Any]


@dataclass(frozen=True)
class Fire:
    """A scripted fault due now (for example a turn's ``error`` when its audio is committed)."""

    fault: Fault


@dataclass(frozen=True)
class Stream:
    """A response started: the player sends ``created`` (after the latency), then plays."""

    response_id: str
    plan: Plan
    created: dict[str, Any]


Action = Send | Fire | Stream


class RealtimeSession:
    """The conversation state of one connection. See the module docstring."""

    def __init__(self, scenario: Scenario, *, model: str, session_no: int = 1) -> None:
        self.scenario = scenario
        self.ids = ev.Ids(session_no)
        self.out = ev.Outbox(self.ids)
        self.session_id = self.ids.next("sess")
        self.config = ev.default_session(model)
        self.buffer = InputBuffer(self.out, vad_params(self._turn_detection()))
        self.conversation = Conversation(self.out)
        self.responses = Responses(self.out, self.conversation, lambda: self.config)
        self.script = Script(scenario)
        self.last_event_ids: dict[str, str] = {}  # client event type -> its latest event_id

    # ---- helpers ------------------------------------------------------------------------

    @property
    def input_bytes(self) -> int:
        """Bytes of input audio appended since the session began."""
        return self.buffer.input_bytes

    @property
    def input_ms(self) -> float:
        """Ms of input audio appended since the session began (the VAD timeline)."""
        return self.buffer.input_ms

    def stamp(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.out.stamp(event)

    def error(
        self,
        code: str | None,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        return self.out.error(code, message, type=type, param=param, event_id=event_id)

    def bad_json(self) -> list[Action]:
        msg = "The server could not parse the message: it is not valid JSON."
        return [Send(self.error("invalid_json", msg))]

    def is_active(self, response_id: str) -> bool:
        return self.responses.is_active(response_id)

    def _session_payload(self, now_s: float | None) -> dict[str, Any]:
        payload = {"object": "realtime.session", "id": self.session_id, **self.config}
        if now_s is not None:
            payload["expires_at"] = int(now_s) + 3600
        return payload

    def _turn_detection(self) -> dict[str, Any] | None:
        td = self.config["audio"]["input"].get("turn_detection")
        return td if isinstance(td, dict) else None

    # ---- entry points -------------------------------------------------------------------

    def opening(self, now_s: float) -> dict[str, Any]:
        return self.stamp({"type": "session.created", "session": self._session_payload(now_s)})

    def receive(self, event: Any) -> list[Action]:
        if not isinstance(event, dict):
            return [Send(self.error("invalid_json", "Expected a JSON object as the message."))]
        etype = event.get("type")
        eid = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        if isinstance(etype, str) and eid is not None:
            self.last_event_ids[etype] = eid
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
        refused = self._update_refusal(session, eid)
        if refused is not None:
            return [Send(refused)]
        self.config = ev.merge_session(self.config, session)
        self.buffer.vad.params = vad_params(self._turn_detection())
        return [
            Send(self.stamp({"type": "session.updated", "session": self._session_payload(None)}))
        ]

    def _update_refusal(self, session: dict[str, Any], eid: str | None) -> dict[str, Any] | None:
        """The error for a ``session.update`` the GA API refuses, or None."""
        beta = next((k for k in ev.BETA_SESSION_KEYS if k in session), None)
        if beta is not None:
            p = f"session.{beta}"
            return self.error(
                "unknown_parameter", f"Unknown parameter: '{p}'.", param=p, event_id=eid
            )
        if "type" not in session:
            msg = "Missing required parameter: 'session.type'."
            return self.error("missing_required_parameter", msg, param="session.type", event_id=eid)
        if session["type"] != "realtime":
            msg = f"Invalid value: '{session['type']}'. Supported values are: 'realtime'."
            return self.error("invalid_value", msg, param="session.type", event_id=eid)
        return None

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
        td = self._turn_detection()
        actions: list[Action] = []
        for change in self.buffer.append(pcm, detect=td is not None):
            assert td is not None
            actions.append(Send(change.event))
            if isinstance(change, SpeechStarted):
                if td.get("interrupt_response", True) and self.responses.active is not None:
                    actions += [Send(e) for e in self.responses.cancel("turn_detected")]
                continue
            actions += self._commit(change.item_id, change.audio_ms, floor_ms=change.end_ms)
            if td.get("create_response", True) and self.responses.active is None:
                actions += self._start_response()
        return actions

    def _commit(self, item_id: str, audio_ms: float, floor_ms: float) -> list[Action]:
        """Commit the buffer as user item ``item_id`` and start the next turn."""
        prev = self.conversation.last_id()
        actions: list[Action] = [Send(self.buffer.committed(item_id, prev, floor_ms))]
        self.conversation.ctx_audio_tokens += int(audio_ms // 100)
        item = Conversation.user_audio(item_id)
        actions += [Send(e) for e in self.conversation.add(item, prev)]
        due = self.script.new_turn()
        text = self.script.user_text()
        if self.config["audio"]["input"].get("transcription") and text is not None:
            event = {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item_id,
                "content_index": 0,
                "transcript": text,
                "usage": {"type": "duration", "seconds": round(audio_ms / 1000, 3)},
            }
            actions.append(Send(self.stamp(event)))
        return actions + [Fire(f) for f in due]

    def _commit_manual(self, event: dict[str, Any], eid: str | None) -> list[Action]:
        refused = self.buffer.commit_refusal(eid)
        if refused is not None:
            return [Send(refused)]
        have = self.buffer.pending_ms
        return self._commit(self.buffer.manual_item(), have, floor_ms=self.input_ms)

    def _clear(self, event: dict[str, Any], eid: str | None) -> list[Action]:
        return [Send(self.buffer.clear())]

    # ---- conversation items -------------------------------------------------------------

    def _item_create(self, event: dict[str, Any], eid: str | None) -> list[Action]:
        result = self.conversation.create(event, eid)
        if not isinstance(result, Created):
            return [Send(e) for e in result]
        item = result.item
        if item["type"] == "function_call_output":
            self.script.tool_output(str(item.get("output", "")))
        actions: list[Action] = [Send(e) for e in result.events]
        if item["type"] == "message" and item.get("role") == "user":
            actions += [Fire(f) for f in self.script.new_turn()]
        return actions

    def _truncate(self, event: dict[str, Any], eid: str | None) -> list[Action]:
        return [Send(e) for e in self.conversation.truncate(event, eid)]

    def _delete(self, event: dict[str, Any], eid: str | None) -> list[Action]:
        return [Send(e) for e in self.conversation.delete(event, eid)]

    # ---- responses ----------------------------------------------------------------------

    def _response_create(self, event: dict[str, Any], eid: str | None) -> list[Action]:
        refused = self.responses.refusal(eid)
        if refused is not None:
            return [Send(refused)]
        return self._start_response()

    def _response_cancel(self, event: dict[str, Any], eid: str | None) -> list[Action]:
        return [Send(e) for e in self.responses.cancel_request(event, eid)]

    def _start_response(self) -> list[Action]:
        resp, created = self.responses.start(self.script.next_plan)
        return [Stream(resp.id, resp.plan, created)]
