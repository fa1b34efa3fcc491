"""Secrets: the Realtime API key and tool credentials. Never from YAML, never logged.

Sources, first found wins:

1. a systemd credential, ``$CREDENTIALS_DIRECTORY/NAME`` (``LoadCredential=`` in the unit);
2. an environment variable (``OPENAI_API_KEY``, or ``VOICE_KIOSK_CREDENTIAL_NAME``);
3. a key file, which must be a regular file of mode 0600 or stricter, owned by this user
   or root.

Values are stripped of surrounding whitespace; an empty value is an error, not "absent".
Errors are one line and never contain the secret.

Example::

    key = find_api_key(settings.realtime.api_key_file, os.environ)
    headers = {"Authorization": f"Bearer {key.reveal()}"}
"""

from __future__ import annotations

import hmac
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

API_KEY_CREDENTIAL = "openai-api-key"
API_KEY_ENV = "OPENAI_API_KEY"
CREDENTIAL_ENV_PREFIX = "VOICE_KIOSK_CREDENTIAL_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class CredentialError(Exception):
    """A secret is missing or unsafe; the message is one line without the secret."""


class Secret:
    """A secret string that prints as ``***``; ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself: pass it straight to the header or call that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


def credential_env_var(name: str) -> str:
    """``job-api.token`` -> ``VOICE_KIOSK_CREDENTIAL_JOB_API_TOKEN``."""
    return CREDENTIAL_ENV_PREFIX + name.upper().replace("-", "_").replace(".", "_")


def _read_file(path: Path, *, private: bool) -> Secret:
    """Read a secret file; ``private``: refuse unless 0600-or-stricter and ours or root's."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise CredentialError(f"{path}: no such key file") from None
    except (OSError, ValueError) as exc:
        raise CredentialError(
            f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise CredentialError(f"{path}: not a regular file")
    with os.fdopen(fd, "rb") as handle:
        if private:
            mode = stat.S_IMODE(info.st_mode)
            if mode & 0o077:
                raise CredentialError(f"{path}: mode {mode:04o} is too open; run: chmod 600 {path}")
            if info.st_uid not in (os.getuid(), 0):
                raise CredentialError(
                    f"{path}: owned by uid {info.st_uid}; it must belong to this user "
                    f"(uid {os.getuid()}) or root"
                )
        try:
            value = handle.read(64 * 1024).decode("utf-8").strip()
        except (OSError, UnicodeDecodeError):
            raise CredentialError(f"{path}: cannot read: not UTF-8 text") from None
    if not value:
        raise CredentialError(f"{path}: is empty")
    return Secret(value)


def key_file_problem(path: Path) -> str | None:
    """None if ``path`` is a usable private key file (for a start-up check), else why not.

    The file is read like the daemon reads it, and the value is dropped: never shown.
    """
    try:
        _read_file(path, private=True)
    except CredentialError as exc:
        return str(exc)
    return None


def _from_credentials_dir(name: str, env: Mapping[str, str]) -> Secret | None:
    folder = env.get("CREDENTIALS_DIRECTORY")
    if not folder or not (Path(folder) / name).exists():
        return None
    return _read_file(Path(folder) / name, private=False)  # systemd owns and guards it


def _from_env(var: str, env: Mapping[str, str]) -> Secret | None:
    if var not in env:
        return None
    value = env[var].strip()
    if not value:
        raise CredentialError(f"${var} is set but empty")
    return Secret(value)


def find_api_key(key_file: Path | None, env: Mapping[str, str]) -> Secret:
    """The Realtime API key: systemd credential, $OPENAI_API_KEY, or the 0600 key file."""
    found = _from_credentials_dir(API_KEY_CREDENTIAL, env) or _from_env(API_KEY_ENV, env)
    if found is not None:
        return found
    if key_file is not None:
        return _read_file(key_file, private=True)
    raise CredentialError(
        f"no API key found: looked for the systemd credential '{API_KEY_CREDENTIAL}' "
        f"($CREDENTIALS_DIRECTORY/{API_KEY_CREDENTIAL}), ${API_KEY_ENV}, and "
        "realtime.api_key_file (not set); provide one of them"
    )


def api_key_source(key_file: Path | None, env: Mapping[str, str]) -> str:
    """Where `find_api_key` takes the key from, in words for a log line (never the key)."""
    if _from_credentials_dir(API_KEY_CREDENTIAL, env) is not None:
        return f"the systemd credential '{API_KEY_CREDENTIAL}'"
    if _from_env(API_KEY_ENV, env) is not None:
        return f"${API_KEY_ENV}"
    return f"the key file {key_file}" if key_file is not None else "nowhere"


def read_credential(name: str, env: Mapping[str, str], key_dir: Path | None = None) -> Secret:
    """A tool credential ``name`` (e.g. a bearer token), looked up in the same order:

    ``$CREDENTIALS_DIRECTORY/<name>``, ``$VOICE_KIOSK_CREDENTIAL_<NAME>`` (upper-cased,
    ``-`` and ``.`` as ``_``), then ``key_dir/<name>`` (mode 0600 or stricter).
    """
    if not _NAME.fullmatch(name):
        raise CredentialError(
            f"credential name {name!r} is not valid: use letters, digits, '.', '-' and '_'"
        )
    var = credential_env_var(name)
    found = _from_credentials_dir(name, env) or _from_env(var, env)
    if found is not None:
        return found
    places = [f"$CREDENTIALS_DIRECTORY/{name}", f"${var}"]
    if key_dir is not None:
        path = key_dir / name
        if path.exists() or path.is_symlink():
            return _read_file(path, private=True)
        places.append(str(path))
    raise CredentialError(f"credential '{name}' not found: looked in {', '.join(places)}")
