"""Settings of the tools the model may call (the `tools:` section).

Owned by the function-calling work (issue 6); the spine only needs `ToolsSettings`
to exist with a `slow_filler_ms`.
"""

from __future__ import annotations

from dataclasses import dataclass

from device.options import option


@dataclass(frozen=True, kw_only=True)
class ToolsSettings:
    slow_filler_ms: int = option(
        700, doc="Say the filler prompt when a tool runs longer than this.", min=0
    )
