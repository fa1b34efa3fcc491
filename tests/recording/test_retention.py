"""Retention on a fake clock: old conversations deleted after the retention period, the
oldest first over the size cap, the conversation being written spared, never a file
outside the recordings folder."""

from __future__ import annotations

import os
from pathlib import Path

from device.recording.retention import DAY_S, Entry, sweep, to_delete

NOW_S = 1_750_000_000.0
MB = 1024 * 1024


def test_entries_older_than_the_retention_period_go() -> None:
    entries = [Entry("a", 10, NOW_S - 31 * DAY_S), Entry("b", 10, NOW_S - 29 * DAY_S)]
    assert to_delete(entries, now_s=NOW_S, max_age_s=30 * DAY_S, max_bytes=MB) == ["a"]
    later = NOW_S + 2 * DAY_S  # two days on, b is old too
    assert to_delete(entries, now_s=later, max_age_s=30 * DAY_S, max_bytes=MB) == ["a", "b"]


def test_over_the_size_cap_the_oldest_go_first_and_the_one_being_written_stays() -> None:
    entries = [
        Entry("new", 4 * MB, NOW_S - 10),
        Entry("old", 4 * MB, NOW_S - 3000),
        Entry("mid", 4 * MB, NOW_S - 2000),
        Entry("writing", 4 * MB, NOW_S - 5000),
    ]
    gone = to_delete(entries, now_s=NOW_S, max_age_s=DAY_S, max_bytes=9 * MB, keep={"writing"})
    assert gone == ["old", "mid"]
    assert to_delete(entries, now_s=NOW_S, max_age_s=DAY_S, max_bytes=16 * MB) == []


def _conversation(root: Path, name: str, age_s: float, size: int) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "conversation.jsonl").write_bytes(b"x" * size)
    when = NOW_S - age_s
    os.utime(folder / "conversation.jsonl", (when, when))
    os.utime(folder, (when, when))
    return folder


def test_a_sweep_on_a_fake_clock_deletes_old_recordings_and_nothing_outside(
    tmp_path: Path,
) -> None:
    root = tmp_path / "recordings"
    _conversation(root, "20250101T000000.000Z-conv-1", 40 * DAY_S, 100)
    _conversation(root, "20250601T000000.000Z-conv-2", 5 * DAY_S, 100)
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("not a recording")
    os.utime(outside / "keep.txt", (0, 0))
    (root / "link").symlink_to(outside)  # a link in the folder: removed, never followed
    os.utime(root / "link", (0, 0), follow_symlinks=False)

    gone = sweep(root, now_s=NOW_S, max_age_s=30 * DAY_S, max_bytes=MB)

    assert sorted(gone) == ["20250101T000000.000Z-conv-1", "link"]
    assert sorted(p.name for p in root.iterdir()) == ["20250601T000000.000Z-conv-2"]
    assert (outside / "keep.txt").read_text() == "not a recording"
    # 30 days on, the other goes too
    assert sweep(root, now_s=NOW_S + 30 * DAY_S, max_age_s=30 * DAY_S, max_bytes=MB)
    assert list(root.iterdir()) == []


def test_a_sweep_ages_a_conversation_by_its_newest_file(tmp_path: Path) -> None:
    root = tmp_path / "recordings"
    folder = _conversation(root, "c1", 40 * DAY_S, 10)
    (folder / "turn-01-caller.wav").write_bytes(b"w" * 10)  # written now
    os.utime(folder / "turn-01-caller.wav", (NOW_S, NOW_S))
    assert sweep(root, now_s=NOW_S, max_age_s=30 * DAY_S, max_bytes=MB) == []
    assert sweep(root, now_s=NOW_S, max_age_s=30 * DAY_S, max_bytes=15) == ["c1"]
