"""Text from outside (server events, transcripts, tool answers) made safe for one log line.

Example::

    one_line("Hello\\nERROR: fake line")   # 'Hello\\\\nERROR: fake line' (stays one line)
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
DEFAULT_LIMIT = 300


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    return _NAMED.get(ch) or f"\\u{ord(ch):04x}"


def one_line(text: object, limit: int = DEFAULT_LIMIT) -> str:
    """``text`` with control and line-breaking characters escaped, cut to ``limit`` chars.

    A cut text ends with ``... (N more chars)``, so a reader knows something was left out.
    """
    s = text if isinstance(text, str) else str(text)
    extra = 0
    if len(s) > limit:
        extra = len(s) - limit
        s = s[:limit]
    s = _CONTROL.sub(_escape, s)
    return f"{s}... ({extra} more chars)" if extra else s
