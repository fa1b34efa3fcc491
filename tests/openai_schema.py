"""Strict validation of Realtime events against the official `openai` package's types.

The package's pydantic models accept unknown fields, so on top of validating we walk the
parsed model and fail on any field the real API does not define (what the real server
answers with `unknown_parameter`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pydantic
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent


@cache
def _client() -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(RealtimeClientEvent)


@cache
def _server() -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(RealtimeServerEvent)


def _extras(value: Any, path: str) -> list[str]:
    found: list[str] = []
    if isinstance(value, pydantic.BaseModel):
        for key in value.model_extra or {}:
            found.append(f"{path}.{key}")
        for name in type(value).model_fields:
            found += _extras(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found += _extras(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += _extras(item, f"{path}.{key}")
    return found


def _check(adapter: pydantic.TypeAdapter[Any], event: dict[str, Any], side: str) -> Any:
    try:
        model = adapter.validate_python(event)
    except pydantic.ValidationError as exc:
        raise AssertionError(f"{side} event {event.get('type')!r} is invalid: {exc}") from None
    if type(model).__name__ != "BaseModel" and getattr(model, "type", None) != event.get("type"):
        raise AssertionError(f"{side} event {event.get('type')!r} parsed as {type(model)}")
    extras = _extras(model, event.get("type", "?"))
    if extras:
        raise AssertionError(f"{side} event has fields the API does not define: {extras}")
    return model


def assert_client_event(event: dict[str, Any]) -> Any:
    """Fail unless ``event`` is a client event the real API accepts."""
    return _check(_client(), event, "client")


def assert_server_event(event: dict[str, Any]) -> Any:
    """Fail unless ``event`` is a server event the real API could send."""
    return _check(_server(), event, "server")
