"""Tool arguments against their JSON schema (jsonschema): only when tools are built or checked
in full, never by plain settings loading."""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match

from device.common.text import one_line
from device.tools.registry import kind_of
from device.tools.settings import ToolsSettings

__all__ = ["make_validator", "parse_arguments", "schema_problem", "tool_schema_problems"]


def schema_problem(schema: dict[str, Any]) -> str | None:
    """None if ``schema`` is a usable parameters schema, else one line saying what is wrong."""
    try:
        text = json.dumps(schema, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        return "not a valid JSON schema: not plain JSON"
    return _schema_problem(text)


@functools.lru_cache(maxsize=256)
def _schema_problem(text: str) -> str | None:
    """The meta-schema check of one schema's JSON text (the same schema is checked once)."""
    schema = json.loads(text)
    try:
        Draft202012Validator.check_schema(schema)
    except RecursionError:
        return "not a valid JSON schema: nested too deeply"
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        why = one_line(" ".join(exc.message.split()), 200)
        return f"not a valid JSON schema{' at ' + where if where else ''}: {why}"
    if schema.get("type") != "object":
        return "must be a JSON schema with type: object"
    return None


def make_validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema)


def parse_arguments(
    validator: Draft202012Validator, name: str, raw: str
) -> tuple[dict[str, Any] | None, str | None]:
    """The arguments as a dict, or None and a one-line error for the model and the log."""
    try:
        value = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, too deep, too many digits
        why = getattr(exc, "msg", "nested too deeply or a number too long")
        return None, f"Invalid arguments for {name}: not JSON ({why}). Call it again."
    if not isinstance(value, dict):
        return None, f"Invalid arguments for {name}: must be a JSON object. Call it again."
    error: ValidationError | None = best_match(validator.iter_errors(value))
    if error is not None:
        where = error.json_path if error.absolute_path else "arguments"
        message = one_line(" ".join(error.message.split()), 200)
        return None, (
            f"Invalid arguments for {name}: {where}: {message}. "
            "Ask the caller for what is missing or wrong, then call it again."
        )
    return value, None


def tool_schema_problems(settings: ToolsSettings) -> list[str]:
    """Each configured tool's parameters against the JSON-schema meta-schema, one line each."""
    problems = []
    for i, item in enumerate(settings.items):
        why = schema_problem(kind_of(item).declare(item).parameters)
        if why:
            problems.append(f"tools.items[{i}].parameters: {why}")
    return problems
