"""The recorder service and its writer thread on real files, without a daemon: the folder
layout, modes 0700/0600, WAV files a test case can replay, a reply cut, the bounded queue,
retention on a fake clock, a link where the folder should be, and recording off."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import stat
import wave
from pathlib import Path
from typing import Any, cast

import pytest

from device.config.settings import Settings
from device.conversation.reports import (
    CallerSaid,
    ConversationEnded,
    ConversationStarted,
    Interrupted,
    Outcome,
    TurnEnded,
)
from device.recording.ops import AppendAudio, Begin
from device.recording.retention import DAY_S
from device.recording.service import (
    RecorderService,
    build_recorder,
    config_sha256,
    recordings_root,
)
from device.recording.settings import RecordingSettings
from device.recording.writer import Writer
from device.services.ports import Ports
from tests.helpers import eventually

NOW_S = 1_750_000_000.0
CHUNK = bytes(range(256)) * 7 + bytes(128)  # 1920 bytes: 40 ms at 24 kHz, not silence


class FakeClock:
    def __init__(self) -> None:
        self.now_s = NOW_S

    def __call__(self) -> float:
        return self.now_s


def _recorder(tmp_path: Path, clock: FakeClock | None = None, **settings: Any) -> RecorderService:
    s = RecordingSettings(state_dir=tmp_path, **settings)
    root = recordings_root(s, {})
    assert root == tmp_path / "recordings"
    return RecorderService(s, root=root, config_hash="cafe", clock=clock or FakeClock())


def _conversation(rec: RecorderService, cid: str = "conv-1") -> None:
    rec.report(0.0, ConversationStarted(cid, "button"))
    for _ in range(5):
        rec.caller_audio(100.0, CHUNK)
    rec.report(400.0, TurnEnded(1))
    rec.report(500.0, CallerSaid("What are your opening hours?"))
    for _ in range(10):
        rec.reply_audio(600.0, "item_1", CHUNK)
    rec.report(900.0, Interrupted("the caller (server)", 1, "item_1", 100))
    rec.caller_audio(950.0, CHUNK)
    rec.report(1000.0, TurnEnded(2))
    rec.report(1200.0, ConversationEnded("bye", None, Outcome.GOODBYE))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _frames(path: Path) -> tuple[int, int, int, bytes]:
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.readframes(10**7)


def test_a_recording_is_a_folder_of_json_lines_and_wavs_readable_only_by_the_daemon(
    tmp_path: Path,
) -> None:
    rec = _recorder(tmp_path, transcripts=True, audio=True)
    _conversation(rec)
    assert rec.writer.flush()
    root = tmp_path / "recordings"
    (folder,) = root.iterdir()
    assert folder.name == "20250615T150640.000Z-conv-1"
    assert _mode(root) == 0o700 and _mode(folder) == 0o700
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "conversation.jsonl", "reply-01.wav", "turn-01-caller.wav", "turn-02-caller.wav"
    ]  # fmt: skip
    assert all(_mode(folder / n) == 0o600 for n in names)
    rate, channels, width, pcm = _frames(folder / "turn-01-caller.wav")
    assert (rate, channels, width) == (24000, 1, 2) and pcm == CHUNK * 5
    assert _frames(folder / "turn-02-caller.wav")[3] == CHUNK
    assert _frames(folder / "reply-01.wav")[3] == (CHUNK * 10)[: 100 * 48]  # cut at 100 ms
    lines = [json.loads(x) for x in (folder / "conversation.jsonl").read_text().splitlines()]
    assert [x["type"] for x in lines] == [
        "conversation", "turn", "caller", "interrupted", "turn", "reply_audio", "end"
    ]  # fmt: skip
    assert lines[0]["config_sha256"] == "cafe" and lines[-1]["outcome"] == "goodbye"
    asyncio.run(rec.close())


def test_with_transcripts_off_nothing_is_written(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    _conversation(rec)
    asyncio.run(rec.close())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
async def test_with_recording_off_recordings_kept_earlier_still_expire(tmp_path: Path) -> None:
    clock = FakeClock()
    on = _recorder(tmp_path, clock, transcripts=True)
    _conversation(on)
    await on.close()
    (folder,) = (tmp_path / "recordings").iterdir()
    for path in (*folder.iterdir(), folder):
        os.utime(path, (NOW_S, NOW_S))
    clock.now_s += 31 * DAY_S
    settings = Settings(recording=RecordingSettings(state_dir=tmp_path))  # off
    off = build_recorder(settings, "", {})
    assert off is not None
    off.clock = clock
    task = asyncio.create_task(off.run(cast(Ports, None)))
    await eventually(lambda: not folder.exists(), 5, "the old recording deleted")
    await off.close()
    await task
    assert list((tmp_path / "recordings").iterdir()) == []
    assert build_recorder(Settings(), "", {}) is None  # off, and no state folder


def test_audio_needs_transcripts() -> None:
    with pytest.raises(ValueError, match="needs transcripts"):
        RecordingSettings(audio=True)


def test_the_queue_is_bounded_what_does_not_fit_is_dropped_and_counted(tmp_path: Path) -> None:
    writer = Writer(tmp_path / "recordings", max_queued_bytes=3 * len(CHUNK), max_ops=10)
    assert writer.put(Begin("c1"))
    assert [writer.put(AppendAudio("a.wav", CHUNK)) for _ in range(4)] == [True] * 3 + [False]
    assert writer.dropped == 1
    writer.close(0.1)


def test_retention_on_a_fake_clock_spares_the_conversation_being_written(tmp_path: Path) -> None:
    clock = FakeClock()
    rec = _recorder(tmp_path, clock, transcripts=True, retention_days=30)
    _conversation(rec, "conv-1")
    clock.now_s += 10 * DAY_S
    rec.report(0.0, ConversationStarted("conv-2", "button"))  # still being written
    assert rec.writer.flush()
    root = tmp_path / "recordings"
    first, second = sorted(root.iterdir())
    for path in (first, *first.iterdir(), second, *second.iterdir()):
        when = NOW_S if path.parent == first or path == first else clock.now_s
        os.utime(path, (when, when))
    clock.now_s += 25 * DAY_S  # conv-1 is 35 days old, conv-2 25
    rec.sweep()
    assert rec.writer.flush()
    assert [p.name for p in root.iterdir()] == [second.name]
    clock.now_s += 30 * DAY_S  # conv-2 is old too, but it is still being written
    rec.sweep()
    assert rec.writer.flush()
    assert [p.name for p in root.iterdir()] == [second.name]
    asyncio.run(rec.close())


def test_a_link_where_the_recordings_folder_should_be_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    (state / "recordings").symlink_to(elsewhere)
    rec = _recorder(state, transcripts=True)
    with caplog.at_level(logging.ERROR):
        _conversation(rec)
        assert rec.writer.flush()
    assert list(elsewhere.iterdir()) == []
    assert "recording: cannot write" in caplog.text
    asyncio.run(rec.close())


def test_the_config_hash_is_the_sha256_of_the_file(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_bytes(b"device: {name: kiosk}\n")
    assert config_sha256(config) == hashlib.sha256(b"device: {name: kiosk}\n").hexdigest()
    assert config_sha256(tmp_path / "missing.yaml") == ""
