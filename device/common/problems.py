"""What the config loader and the tools checks share: the error type and the secret rules.

Neutral on purpose: ``device.config.loader`` and everything under ``device/tools/`` import this
module, never each other's, so there is no import cycle between loading settings and the
tools. Pure: no I/O.

A problem is one line. Checks return ``key.path: what is wrong``; the loader prefixes
``FILE:LINE: `` (or ``FILE: `` when no line applies) and raises ``ConfigError``.
"""

from __future__ import annotations

import re

from device.common.text import one_line

__all__ = ["SECRET_HINT", "ConfigError", "is_secret_header", "is_secret_key"]

SECRET_HINT = (
    "secrets never go in YAML: use a systemd credential, an environment variable "
    "or a 0600 key file (see README)"
)

# A key is a secret if, lower-cased with separators removed, it ends with one of these:
# api_key, x-api-key, OPENAI_API_KEY, clientSecret, bearer_token, Authorization...
# (api_key_file, token_url and max_output_tokens are not: they do not end with one).
_SECRET_ENDINGS = (
    "apikey",
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "bearer",
    "authorization",
    "privatekey",
)
# HTTP headers that carry a secret though their names do not end like one
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


PROBLEM_LIMIT = 1000  # chars of one problem line (a path, a key path and the value got)


class ConfigError(Exception):
    """The config is not usable; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = [one_line(p, PROBLEM_LIMIT) for p in problems]
        super().__init__("\n".join(self.problems))


def is_secret_key(name: str) -> bool:
    """True for key names that would hold a secret (``api_key``, ``Authorization``...)."""
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    return flat.endswith(_SECRET_ENDINGS)


def is_secret_header(name: str) -> bool:
    """True for HTTP header names whose value is a secret (``Authorization``, ``Cookie``...)."""
    return is_secret_key(name) or name.strip().lower() in _SECRET_HEADERS
