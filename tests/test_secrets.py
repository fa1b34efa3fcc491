"""The API key and tool credentials: where they come from, and that they never leak."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from device.secrets import CredentialError, Secret, find_api_key, read_credential

KEY = "sk-test-0123456789"


def key_file(tmp_path: Path, mode: int, text: str = KEY + "\n") -> Path:
    path = tmp_path / "openai.key"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_systemd_credential_comes_first(tmp_path: Path) -> None:
    (tmp_path / "openai-api-key").write_text(KEY)
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path), "OPENAI_API_KEY": "other"}
    assert find_api_key(None, env).reveal() == KEY


def test_environment_comes_before_the_key_file(tmp_path: Path) -> None:
    path = key_file(tmp_path, 0o600, "from-file")
    assert find_api_key(path, {"OPENAI_API_KEY": KEY}).reveal() == KEY
    assert find_api_key(path, {}).reveal() == "from-file"


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_key_file_is_accepted(tmp_path: Path, mode: int) -> None:
    assert find_api_key(key_file(tmp_path, mode), {}).reveal() == KEY


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_readable_by_others_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    path = key_file(tmp_path, mode)
    with pytest.raises(CredentialError) as err:
        find_api_key(path, {})
    assert f"mode {mode:04o} is too open" in str(err.value)
    assert f"chmod 600 {path}" in str(err.value)
    assert KEY not in str(err.value)


def test_empty_and_missing_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(CredentialError, match="is empty"):
        find_api_key(key_file(tmp_path, 0o600, "  \n"), {})
    with pytest.raises(CredentialError, match="no such key file"):
        find_api_key(tmp_path / "missing.key", {})


def test_nothing_found_names_every_place() -> None:
    with pytest.raises(CredentialError) as err:
        find_api_key(None, {})
    message = str(err.value)
    assert "OPENAI_API_KEY" in message and "openai-api-key" in message and "api_key_file" in message


def test_secret_never_prints() -> None:
    secret = Secret(KEY)
    assert KEY not in str(secret) and KEY not in repr(secret) and KEY not in f"{secret}"
    assert KEY not in repr({"key": secret})


def test_tool_credentials_follow_the_same_rules(tmp_path: Path) -> None:
    assert (
        read_credential("job-api.token", {"VOICE_KIOSK_CREDENTIAL_JOB_API_TOKEN": "t1"}).reveal()
        == "t1"
    )
    (tmp_path / "job-api").write_text("t2")
    os.chmod(tmp_path / "job-api", 0o644)
    with pytest.raises(CredentialError, match="too open"):
        read_credential("job-api", {}, key_dir=tmp_path)
    os.chmod(tmp_path / "job-api", 0o600)
    assert read_credential("job-api", {}, key_dir=tmp_path).reveal() == "t2"
