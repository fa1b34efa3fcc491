"""Logging to journald: the stream check, the VK_* fields, and the native datagrams.

systemd-python (libsystemd's sd_journal_sendv) writes to a hard-coded path,
/run/systemd/journal/socket. The field tests inject JournalHandler's sender; one test
runs a child in a private mount namespace (unshare) with the test's own socket mounted
at that path and reads the real datagrams (skipped where unshare is not allowed).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.conversation.reports import (
    ConversationEnded,
    ConversationStarted,
    ErrorReported,
    Outcome,
    StateChanged,
    ToolReported,
)
from device.conversation.state import State
from device.systemd.journal import (
    fields,
    is_journal_stream,
    report_fields,
    use_journal_if_under_systemd,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, its handlers and level put back after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def stream_fd(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """A file descriptor standing in for stderr, and its ``DEVICE:INODE``."""
    fd = os.open(tmp_path / "stderr", os.O_WRONLY | os.O_CREAT, 0o600)
    info = os.fstat(fd)
    yield fd, f"{info.st_dev}:{info.st_ino}"
    os.close(fd)


def test_journal_stream_must_be_our_stderr(stream_fd: tuple[int, str]) -> None:
    fd, ident = stream_fd
    assert is_journal_stream({"JOURNAL_STREAM": ident}, fd)
    assert not is_journal_stream({"JOURNAL_STREAM": "1:2"}, fd)  # stderr redirected since
    assert not is_journal_stream({"JOURNAL_STREAM": "nonsense"}, fd)
    assert not is_journal_stream({}, fd)


def test_not_under_systemd_logging_is_left_alone(
    root_logger: logging.Logger, stream_fd: tuple[int, str]
) -> None:
    before = root_logger.handlers[:]
    assert use_journal_if_under_systemd("info", {}, stderr_fd=stream_fd[0]) is None
    assert root_logger.handlers == before


def test_records_carry_vk_fields(root_logger: logging.Logger, stream_fd: tuple[int, str]) -> None:
    sent: list[dict[str, object]] = []

    def sender(MESSAGE: str, **kw: object) -> None:  # systemd.journal.send's shape
        sent.append({"MESSAGE": MESSAGE, **kw})

    fd, ident = stream_fd
    context = use_journal_if_under_systemd(
        "info", {"JOURNAL_STREAM": ident}, stderr_fd=fd, sender=sender
    )
    assert context is not None
    log = logging.getLogger("device.test")
    log.debug("not at info")
    log.info("before any conversation")
    context.report(1.0, StateChanged(State.IDLE, State.CONNECTING))
    context.report(1.0, ConversationStarted("conv-7", "button"))
    context.report(2.0, StateChanged(State.CONNECTING, State.LISTENING))
    log.warning("the job service timed out", extra=fields(tool="job_status", error_code="timeout"))
    context.report(3.0, ConversationEnded("goodbye", outcome=Outcome.GOODBYE))
    context.report(3.0, StateChanged(State.LISTENING, State.IDLE))
    log.error("after it", extra={"VK_STATE": "given"})

    assert [m["MESSAGE"] for m in sent] == [
        "before any conversation",
        "the job service timed out",
        "after it",
    ]
    first, second, third = sent
    assert first["VK_STATE"] == "idle" and "VK_CONVERSATION" not in first
    assert first["PRIORITY"] == "6" and first["SYSLOG_IDENTIFIER"] == "voice-kiosk"
    assert second["VK_STATE"] == "listening"
    assert second["VK_CONVERSATION"] == "conv-7"
    assert second["VK_TOOL"] == "job_status" and second["VK_ERROR_CODE"] == "timeout"
    assert second["PRIORITY"] == "4" and second["LOGGER"] == "device.test"
    assert third["VK_STATE"] == "given" and "VK_CONVERSATION" not in third
    assert third["PRIORITY"] == "3"


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        (StateChanged(State.IDLE, State.OFFLINE), {"VK_STATE": "offline", "VK_STATE_OLD": "idle"}),
        (
            ConversationStarted("c1", "wake word"),
            {"VK_CONVERSATION": "c1", "VK_SOURCE": "wake word"},
        ),
        (ConversationEnded("bye", outcome=Outcome.NOBODY_SPOKE), {"VK_OUTCOME": "nobody_spoke"}),
        (
            ErrorReported("rate_limit_exceeded", "slow down"),
            {"VK_ERROR_CODE": "rate_limit_exceeded"},
        ),
        (
            ToolReported("job_status", "{}", ok=False, ms=12.6, output="", action=""),
            {"VK_TOOL": "job_status", "VK_TOOL_OK": "0", "VK_TOOL_MS": "13"},
        ),
    ],
)
def test_report_fields(report: object, expected: dict[str, str]) -> None:
    assert report_fields(report) == expected  # type: ignore[arg-type]


def _unshare() -> list[str] | None:
    """How to get a private mount namespace here, or None."""
    tool = shutil.which("unshare")
    if tool is None:
        return None
    for flags in (["-m"], ["-Urm"]):
        probe = subprocess.run(
            [tool, *flags, "sh", "-c", "mount -t tmpfs tmpfs /run"],
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            return [tool, *flags]
    return None


def _parse_native(data: bytes) -> dict[str, str]:
    """journald's native protocol: ``KEY=value\\n``, or ``KEY\\n<le64 size><value>\\n``."""
    out: dict[str, str] = {}
    i = 0
    while i < len(data):
        end = data.index(b"\n", i)
        line = data[i:end]
        if b"=" in line:
            key, _, value = line.partition(b"=")
            i = end + 1
        else:
            key = line
            (size,) = struct.unpack_from("<Q", data, end + 1)
            value = data[end + 9 : end + 9 + size]
            i = end + 9 + size + 1
        out[key.decode()] = value.decode()
    return out


CHILD = """
import logging, os, sys
sys.path.insert(0, sys.argv[1])
from device.conversation.reports import ConversationStarted
from device.systemd.journal import fields, use_journal_if_under_systemd
context = use_journal_if_under_systemd("info")
print(context is not None, flush=True)
context.report(0.0, ConversationStarted("conv-9", "button"))
logging.getLogger("device.x").warning(
    "two\\nlines", extra=fields(error_code="session_expired"))
"""


def test_native_datagrams_reach_the_journal_socket() -> None:
    """The real path: JOURNAL_STREAM is the child's stderr, libsystemd sends the record to
    /run/systemd/journal/socket, which here is the test's socket."""
    unshare = _unshare()
    if unshare is None:
        pytest.skip("no private mount namespace here (unshare -m / -Urm refused)")
    folder = Path(tempfile.mkdtemp(prefix="vk-journal-"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(str(folder / "socket"))
        os.chmod(folder, 0o755)
        sock.settimeout(10)
        read_end, write_end = os.pipe()
        info = os.fstat(write_end)
        env = dict(os.environ, JOURNAL_STREAM=f"{info.st_dev}:{info.st_ino}")
        script = (
            "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && "
            f'mount --bind "{folder}" /run/systemd/journal && exec "$0" -c "$1" "$2"'
        )
        child = subprocess.run(
            [*unshare, "sh", "-c", script, sys.executable, CHILD, str(ROOT)],
            stdout=subprocess.PIPE,
            stderr=write_end,
            env=env,
            timeout=60,
            check=False,
        )
        os.close(write_end)
        errors = os.read(read_end, 65536).decode()
        os.close(read_end)
        assert child.returncode == 0, errors
        assert child.stdout.decode().strip() == "True"  # it saw its stderr was the journal
        record = _parse_native(sock.recv(65536))
    finally:
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)
    assert record["MESSAGE"] == "two\nlines"
    assert record["PRIORITY"] == "4"
    assert record["SYSLOG_IDENTIFIER"] == "voice-kiosk"
    assert record["VK_ERROR_CODE"] == "session_expired"
    assert record["VK_STATE"] == "idle"
    assert record["VK_CONVERSATION"] == "conv-9"
    json.dumps(record)  # every field is text
