"""Declaring settings: one `option()` per field, documented where it is declared.

Settings are frozen dataclasses. The loader in `device.config.loader` builds them from YAML
generically, reading each field's type hint and the metadata `option()` stores:

- ``doc``: one line for the reference (`firmware_config/default.yaml` repeats it);
- ``min`` / ``max``: inclusive numeric bounds (every number has both: a range a real
  device can use, stated in default.yaml);
- ``also``: values accepted outside the range (``speed`` is 0, or 0.1 to 100);
- ``blank``: False for text that must say something (names, models, descriptions);

Supported field types: str, int, float, bool, pathlib.Path (resolved against the
config file's folder), Literal[...], X | None, tuple[X, ...], dict[str, X], nested
settings dataclasses, and unions of dataclasses told apart by a single-valued Literal
field named ``type`` or ``kind`` (the discriminator).

Example::

    @dataclass(frozen=True, kw_only=True)
    class GateSettings:
        open_db: float = option(12.0, doc="Open above the noise floor by this many dB.", min=0)
"""

from __future__ import annotations

import dataclasses
from typing import Any


def option(
    default: Any = dataclasses.MISSING,
    *,
    doc: str,
    min: float | None = None,
    max: float | None = None,
    also: tuple[float, ...] = (),
    blank: bool = True,
) -> Any:
    """A documented settings field; lists become tuples, dicts are copied per instance."""
    meta = {"doc": doc, "min": min, "max": max, "also": also, "blank": blank}
    if isinstance(default, list):
        default = tuple(default)
    if isinstance(default, dict):
        value = dict(default)
        return dataclasses.field(default_factory=lambda: dict(value), metadata=meta)
    if dataclasses.is_dataclass(default) and not isinstance(default, type):
        value_dc = default
        return dataclasses.field(default_factory=lambda: value_dc, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)
