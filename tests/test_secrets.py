"""The API key and tool credentials: where they come from, and that they never leak."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from device.config.secrets import CredentialError, Secret, find_api_key, read_credential

KEY = "sk-test-0123456789"


def key_file(tmp_path: Path, mode: int, text: str = KEY + "\n", name: str = "openai.key") -> Path:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return path


def credentials_dir(tmp_path: Path, name: str, value: str) -> dict[str, str]:
    folder = tmp_path / "credentials"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(value)
    (folder / name).chmod(0o400)
    return {"CREDENTIALS_DIRECTORY": str(folder)}


def refused(call: object, *args: object) -> str:
    """The one-line message of a CredentialError, checked never to hold a secret."""
    with pytest.raises(CredentialError) as err:
        call(*args)  # type: ignore[operator]
    message = str(err.value)
    assert "\n" not in message and KEY not in message and "t-secret" not in message
    return message


def test_sources_in_order_credential_env_file(tmp_path: Path) -> None:
    path = key_file(tmp_path, 0o600, "from-file\n")
    env = credentials_dir(tmp_path, "openai-api-key", "from-systemd\n")
    assert find_api_key(path, {**env, "OPENAI_API_KEY": "from-env"}).reveal() == "from-systemd"
    assert find_api_key(path, {"OPENAI_API_KEY": " from-env "}).reveal() == "from-env"
    assert find_api_key(path, {}).reveal() == "from-file"


def test_a_credentials_folder_without_the_key_falls_through(tmp_path: Path) -> None:
    env = credentials_dir(tmp_path, "something-else", "x")
    assert find_api_key(None, {**env, "OPENAI_API_KEY": KEY}).reveal() == KEY


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_key_file_is_accepted(tmp_path: Path, mode: int) -> None:
    assert find_api_key(key_file(tmp_path, mode), {}).reveal() == KEY


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o610])
def test_key_file_readable_by_others_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    path = key_file(tmp_path, mode)
    assert refused(find_api_key, path, {}) == (
        f"{path}: mode {mode:04o} is too open; run: chmod 600 {path}"
    )


def test_key_file_must_be_a_regular_file(tmp_path: Path) -> None:
    assert refused(find_api_key, tmp_path, {}) == f"{tmp_path}: not a regular file"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    assert refused(find_api_key, fifo, {}) == f"{fifo}: not a regular file"


def test_key_file_through_a_symlink_is_judged_by_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.key"
    link.symlink_to(key_file(tmp_path, 0o644))
    assert "too open" in refused(find_api_key, link, {})
    (tmp_path / "openai.key").chmod(0o600)
    assert find_api_key(link, {}).reveal() == KEY


def test_empty_values_are_errors_not_absence(tmp_path: Path) -> None:
    path = key_file(tmp_path, 0o600, "  \n")
    assert refused(find_api_key, path, {}) == f"{path}: is empty"
    assert (
        refused(find_api_key, None, {"OPENAI_API_KEY": " "}) == "$OPENAI_API_KEY is set but empty"
    )
    env = credentials_dir(tmp_path, "openai-api-key", "\n")
    assert refused(find_api_key, None, env).endswith("openai-api-key: is empty")


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a file to another user")
def test_key_file_of_another_user_is_refused(tmp_path: Path) -> None:
    path = key_file(tmp_path, 0o600)
    os.chown(path, 4242, 4242)
    assert refused(find_api_key, path, {}) == (
        f"{path}: owned by uid 4242; it must belong to this user (uid 0) or root"
    )


def test_missing_key_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing.key"
    assert refused(find_api_key, missing, {}) == f"{missing}: no such key file"


def test_nothing_found_names_all_three_places() -> None:
    message = refused(find_api_key, None, {})
    assert "$CREDENTIALS_DIRECTORY/openai-api-key" in message
    assert "$OPENAI_API_KEY" in message
    assert "realtime.api_key_file" in message


def test_secret_never_prints() -> None:
    secret = Secret(KEY)
    for text in (
        str(secret),
        repr(secret),
        f"{secret}",
        repr({"key": secret}),
    ):
        assert KEY not in text
    assert secret.reveal() == KEY
    assert secret == Secret(KEY) and secret != Secret("other")


def test_tool_credentials_follow_the_same_order(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    key_file(key_dir, 0o600, "from-dir", name="job-api.token")
    env_var = {"VOICE_KIOSK_CREDENTIAL_JOB_API_TOKEN": "from-env"}
    systemd = credentials_dir(tmp_path, "job-api.token", "from-systemd")
    assert read_credential("job-api.token", {**systemd, **env_var}, key_dir).reveal() == (
        "from-systemd"
    )
    assert read_credential("job-api.token", env_var, key_dir).reveal() == "from-env"
    assert read_credential("job-api.token", {}, key_dir).reveal() == "from-dir"


def test_tool_credential_files_must_be_private(tmp_path: Path) -> None:
    path = key_file(tmp_path, 0o644, "t-secret", name="job-api")
    assert refused(read_credential, "job-api", {}, tmp_path) == (
        f"{path}: mode 0644 is too open; run: chmod 600 {path}"
    )


def test_missing_tool_credential_names_every_place(tmp_path: Path) -> None:
    assert refused(read_credential, "job-api", {}, tmp_path) == (
        "credential 'job-api' not found: looked in $CREDENTIALS_DIRECTORY/job-api, "
        f"$VOICE_KIOSK_CREDENTIAL_JOB_API, {tmp_path / 'job-api'}"
    )
    assert refused(read_credential, "job-api", {}) == (
        "credential 'job-api' not found: looked in $CREDENTIALS_DIRECTORY/job-api, "
        "$VOICE_KIOSK_CREDENTIAL_JOB_API"
    )


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "", ".hidden"])
def test_credential_names_cannot_escape_their_folder(tmp_path: Path, name: str) -> None:
    assert "is not valid" in refused(read_credential, name, {}, tmp_path)
