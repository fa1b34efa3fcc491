"""Secrets: the Realtime API key and tool credentials. Never from YAML, never logged.

Sources, in order: a systemd credential (``$CREDENTIALS_DIRECTORY/NAME``, from
``LoadCredential=``), an environment variable, then a key file that must be mode 0600 or
stricter. Errors are one line and never contain a secret.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

API_KEY_CREDENTIAL = "openai-api-key"
API_KEY_ENV = "OPENAI_API_KEY"


class CredentialError(Exception):
    """A secret is missing or unsafe; the message is one line without the secret."""


class Secret:
    """A secret string that prints as ``***``; ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"


def _read_file(path: Path, *, check_mode: bool) -> Secret:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise CredentialError(f"{path}: no such key file") from None
    except OSError as exc:
        raise CredentialError(f"{path}: cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise CredentialError(f"{path}: not a regular file")
    if check_mode:
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise CredentialError(
                f"{path}: mode {mode:04o} is too open for a secret; run: chmod 600 {path}"
            )
        if info.st_uid not in (os.getuid(), 0):
            raise CredentialError(f"{path}: must be owned by this user or root")
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialError(f"{path}: cannot read ({exc})") from None
    if not value:
        raise CredentialError(f"{path}: is empty")
    return Secret(value)


def _lookup(name: str, env_var: str, env: Mapping[str, str], key_file: Path | None) -> Secret:
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    if cred_dir and (Path(cred_dir) / name).exists():
        return _read_file(Path(cred_dir) / name, check_mode=False)  # systemd guards it
    value = env.get(env_var, "").strip()
    if value:
        return Secret(value)
    if key_file is not None:
        return _read_file(key_file, check_mode=True)
    places = [f"$CREDENTIALS_DIRECTORY/{name}", f"${env_var}"]
    if key_file is None:
        places.append("a key file")
    raise CredentialError(f"no {name} found: looked in {', '.join(places)}")


def find_api_key(key_file: Path | None, env: Mapping[str, str]) -> Secret:
    """The Realtime API key from a systemd credential, OPENAI_API_KEY, or a 0600 key file."""
    try:
        return _lookup(API_KEY_CREDENTIAL, API_KEY_ENV, env, key_file)
    except CredentialError as exc:
        if str(exc).startswith("no "):
            raise CredentialError(
                f"no API key: set {API_KEY_ENV}, or use a systemd credential "
                f"'{API_KEY_CREDENTIAL}', or set realtime.api_key_file to a 0600 file"
            ) from None
        raise


def credential_env_var(name: str) -> str:
    return "VOICE_KIOSK_CREDENTIAL_" + name.upper().replace("-", "_").replace(".", "_")


def read_credential(name: str, env: Mapping[str, str], key_dir: Path | None = None) -> Secret:
    """A tool credential NAME: the credentials folder, $VOICE_KIOSK_CREDENTIAL_NAME, KEY_DIR."""
    key_file = key_dir / name if key_dir is not None else None
    return _lookup(name, credential_env_var(name), env, key_file)
