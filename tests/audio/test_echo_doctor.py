"""`voice-kiosk doctor --echo`: the measuring (pure, made signals) and the check on the
PulseAudio rig (the speaker looped back into the mic at a known level, or not at all)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from device.audio.echo_check import EchoMeasurement, burst, measure_echo, recommend
from tests.helpers.doctor import doctor
from tests.pulse import MIC_SOURCE, PulseServer, alsa_pulse_pcm

RATE = 16000
BEFORE = RATE // 2  # the recording starts 500 ms before the burst


def recording(
    played: np.ndarray, gain_db: float | None, delay_ms: float, room_dbfs: float | None
) -> np.ndarray:
    """What a mic records (int16): the room's noise, and the burst ``delay_ms`` late at
    ``gain_db`` (None: not at all)."""
    n = BEFORE + len(played) + RATE
    rng = np.random.default_rng(7)
    y = np.zeros(n) if room_dbfs is None else rng.normal(0, 32768 * 10 ** (room_dbfs / 20), n)
    if gain_db is not None:
        at = BEFORE + round(delay_ms * RATE / 1000)
        y[at : at + len(played)] += played * 10 ** (gain_db / 20)
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize(
    ("gain_db", "delay_ms", "room_dbfs"),
    [(-12.0, 45.0, -60.0), (-30.0, 120.0, -60.0), (-38.0, 20.0, -50.0), (-3.0, 5.0, -65.0)],
)
def test_the_coupling_and_the_delay_of_a_known_echo(
    gain_db: float, delay_ms: float, room_dbfs: float
) -> None:
    played = burst(RATE)
    m = measure_echo(
        played, recording(played, gain_db, delay_ms, room_dbfs), RATE, played_at=BEFORE
    )
    assert m.heard and m.coupling_db is not None
    assert m.coupling_db == pytest.approx(gain_db, abs=0.5)
    assert m.delay_ms == pytest.approx(delay_ms, abs=0.1)  # to the sample
    assert m.room_dbfs == pytest.approx(room_dbfs, abs=0.5)
    assert m.describe() == f"hears the speaker {-m.coupling_db:.1f} dB down, {delay_ms:.0f} ms late"


def test_an_echo_under_the_room_is_still_found_by_its_shape() -> None:
    """The echo (-70 dBFS) 20 dB under the room's noise: the power barely moves, the
    correlation peak stands."""
    played = burst(RATE)
    m = measure_echo(played, recording(played, -50.0, 30.0, -50.0), RATE, played_at=BEFORE)
    assert m.heard and m.delay_ms == pytest.approx(30.0, abs=0.1)
    assert m.coupling_db == pytest.approx(-50.0, abs=2)


@pytest.mark.parametrize("room_dbfs", [-60.0, None], ids=["room", "digital_silence"])
def test_a_mic_that_does_not_hear_the_speaker(room_dbfs: float | None) -> None:
    played = burst(RATE)
    m = measure_echo(played, recording(played, None, 0, room_dbfs), RATE, played_at=BEFORE)
    assert not m.heard and m.coupling_db is None and m.delay_ms is None
    # the bound: what the mic heard at all, over the burst's level (-20 dBFS)
    expected = -40.0 if room_dbfs is not None else -100.0
    assert m.at_most_db == pytest.approx(expected, abs=1)
    assert m.describe() == f"does not hear the speaker (under {expected:.0f} dB)"


def test_the_burst_is_voice_band_noise_at_minus_20_dbfs() -> None:
    x = burst(24000).astype(np.float64) / 32768
    assert len(x) == 24000 and x.dtype == np.float64
    assert 10 * np.log10(np.mean(x * x)) == pytest.approx(-20, abs=0.2)
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    hz = np.fft.rfftfreq(len(x), 1 / 24000)
    assert spectrum[(hz < 150) | (hz > 4500)].sum() < 1e-3 * spectrum.sum()


def heard(db: float | None, delay_ms: float = 40.0) -> EchoMeasurement:
    return EchoMeasurement(
        heard=db is not None,
        coupling_db=db,
        at_most_db=-70.0 if db is None else db,
        delay_ms=None if db is None else delay_ms,
        room_dbfs=-90.0,
        during_dbfs=-90.0 if db is None else -20.0 + db,
        played_dbfs=-20.0,
        clarity=0.0 if db is None else 100.0,
    )


def test_the_mode_recommended_and_why() -> None:
    advice = recommend("reference", heard(-38.0))
    assert advice.mode == "reference"
    assert advice.why == (
        "the mic hears the speaker 38.0 dB down: hardware or reference both work; "
        "reference chosen by default"
    )
    assert recommend("reference", heard(None)).why.startswith(
        "the mic does not hear the speaker (under -70 dB): hardware or reference both work"
    )
    assert recommend("reference", heard(-12.0)).mode == "reference"
    loud = recommend("reference", heard(-2.0))
    assert loud.mode == "half_duplex" and "hardware" in loud.why
    # hardware: the processed channel is what the mic array gives
    assert recommend("hardware", heard(-40.0)).mode == "hardware"
    leaky = recommend("hardware", heard(-12.0))
    assert leaky.mode == "reference" and "does not cancel the echo" in leaky.why
    # software with raw_input: the raw mic, and what the canceller takes off
    working = recommend("software", heard(-35.0), raw=heard(-12.0))
    assert working.mode == "software" and "takes 23 dB off" in working.why
    idle = recommend("software", heard(-13.0), raw=heard(-12.0))
    assert idle.mode == "reference" and "takes only 1 dB off" in idle.why
    # the line the doctor prints
    assert (
        recommend("reference", heard(-38.0))
        .line()
        .startswith("audio.echo.mode: reference (the mic hears the speaker 38.0 dB down")
    )


def test_an_echo_later_than_max_delay_ms_says_to_raise_it() -> None:
    advice = recommend("reference", heard(-20.0, delay_ms=430.0), max_delay_ms=400)
    assert advice.notes == [
        "the echo comes 430 ms late, over echo.max_delay_ms (400): raise it to 500"
    ]
    assert recommend("reference", heard(-20.0, delay_ms=120.0)).notes == []


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_doctor_echo_measures_the_loopback_and_says_when_nothing_is_heard(
    pulse: PulseServer,
) -> None:
    pulse.add_echo(-20.0)  # the speaker reaches the mic 20 dB down, through a 20 ms loopback
    try:
        code, text = doctor("--echo", "--json")
    finally:
        pulse.remove_echo()
    assert code == 0, text
    echo = json.loads(text)["echo"]
    mic = echo["mic"]
    assert mic["heard"] and mic["coupling_db"] == pytest.approx(-20, abs=3), mic
    assert 0 <= mic["delay_ms"] <= 150, mic  # the loopback's 20 ms, and the servers'
    assert echo["configured_mode"] == "reference" and echo["recommended_mode"] == "reference"
    assert echo["why"].startswith("the mic hears the speaker 20.")
    # no loopback: the mic hears nothing of the speaker
    code, text = doctor("--echo")
    assert code == 0, text
    assert "microphone default: does not hear the speaker" in text
    assert "recommended: audio.echo.mode: reference (the mic does not hear the speaker" in text


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_doctor_echo_measures_the_raw_mic_of_raw_input_too(
    pulse: PulseServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """software with raw_input names two mics: both are measured. Here both are the same
    uncancelled mic, so the advice is that the canceller takes nothing off."""
    alsa_pulse_pcm(tmp_path, "kiosk_raw", MIC_SOURCE)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config = tmp_path / "kiosk.yaml"
    config.write_text("audio:\n  echo: {mode: software, raw_input: kiosk_raw}\n")
    pulse.add_echo(-15.0)
    try:
        code, text = doctor("--config", str(config), "--echo", "--json")
    finally:
        pulse.remove_echo()
    assert code == 0, text
    echo = json.loads(text)["echo"]
    for key in ("mic", "raw_input"):
        assert echo[key]["coupling_db"] == pytest.approx(-15, abs=3), echo
    assert echo["raw_input"]["device"] == "kiosk_raw"
    assert echo["recommended_mode"] == "reference" and "takes only" in echo["why"]


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_doctor_echo_with_a_missing_mic_fails_naming_it(pulse: PulseServer, tmp_path: Path) -> None:
    config = tmp_path / "kiosk.yaml"
    config.write_text("audio:\n  input:\n    type: pyaudio\n    device: NoSuchCard\n")
    code, text = doctor("--config", str(config), "--echo")
    assert code == 1
    assert "microphone NoSuchCard: problem: microphone 'NoSuchCard' not found" in text
