"""`voice-kiosk doctor --wake` on the private PulseAudio daemon: say the phrase, see it."""

from __future__ import annotations

import io
import json
import re
import threading
from pathlib import Path
from typing import Any

from tests.helpers import eventually_sync
from tests.helpers.doctor import doctor
from tests.pulse import PulseServer


class Output(io.StringIO):
    """What the doctor prints, readable from another thread while it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            return super().write(text)

    def text(self) -> str:
        with self.lock:
            return self.getvalue()


def test_the_phrase_said_into_the_mic_shows_a_wake_live(
    pulse: PulseServer, corpus: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """The phrase played into the virtual mic wakes the doctor at the default threshold."""
    folder, manifest = corpus
    config = tmp_path / "kiosk.yaml"
    (tmp_path / "prompts").mkdir()
    config.write_text("wake:\n  models:\n    - name: hey_jarvis\n")
    clip = next(
        c for c in manifest["positives"] if c["condition"] == "clean" and c["voice"] == "en-gb"
    )
    out = Output()
    result: list[tuple[int, str]] = []
    argv = ("--config", str(config), "--wake", "6")
    runner = threading.Thread(target=lambda: result.append(doctor(*argv, out=out)))
    runner.start()
    # the live meter is drawn once audio frames arrive: then say the phrase
    eventually_sync(lambda: "hey_jarvis 0.00 [" in out.text(), 20, "the doctor's live meter")
    player = pulse.play_into_mic(folder / clip["file"])
    assert player.wait(10) == 0
    runner.join(20)
    code, text = result[0]
    assert code == 0, text
    assert text.count("WAKE hey_jarvis") == 1, text  # the wake line, once
    summary = re.search(r"wake word hey_jarvis: best score ([\d.]+) \(threshold 0.76\)", text)
    assert summary is not None and float(summary[1]) >= 0.76
    assert ", 1 wake(s)" in text
    ran = re.search(r"the models ran on (\d+) of (\d+) 80 ms frames", text)
    assert ran is not None and int(ran[1]) < int(ran[2])  # the silence around it ran none


def test_json_reports_every_model_and_the_level(pulse: PulseServer) -> None:
    code, text = doctor("--wake", "0.6", "--json")
    assert code == 0, text
    wake = json.loads(text)["wake"]
    assert wake["models"] == {"hey_jarvis": {"threshold": 0.76, "max_score": 0.0, "wakes": 0}}
    assert wake["frames"] >= 25 and wake["peak_db"] < -60 and wake["wakes"] == []


def test_a_missing_model_is_one_line_and_a_failed_check(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.yaml"
    (tmp_path / "prompts").mkdir()
    config.write_text("wake:\n  models:\n    - name: hey_kiosk\n")
    code, text = doctor("--config", str(config), "--wake", "1")
    assert code == 1
    assert "problem: wake model 'hey_kiosk' not found in" in text
    assert "Traceback" not in text
