"""EchoPath: what the device learns of its speaker-to-mic path, on block powers (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from device.vad.echo_path import EchoPath

LAGS, MAX_LAG, N = 20, 15, 200


def speechy(n: int, seed: int = 0) -> np.ndarray:
    """Block powers of a voice: bursts of -10..-30 dBFS with quiet gaps."""
    rng = np.random.default_rng(seed)
    level_db = rng.uniform(-30, -10, n)
    level_db[rng.random(n) < 0.3] = -80.0
    return np.asarray(10 ** (level_db / 10))


def heard(
    ref: np.ndarray, delay: int, gain_db: float | None, floor_db: float = -65.0
) -> np.ndarray:
    """The mic's last N blocks: the reference ``delay`` blocks late at ``gain_db``, over a floor."""
    rng = np.random.default_rng(1)
    floor = 10 ** (floor_db / 10) * rng.uniform(0.8, 1.2, N)
    if gain_db is None:
        return np.asarray(floor)
    return np.asarray(floor + 10 ** (gain_db / 10) * ref[LAGS - 1 - delay : LAGS - 1 - delay + N])


def test_a_mic_that_hears_nothing_gets_a_ceiling_near_nothing() -> None:
    path = EchoPath(lags=LAGS, max_lag=MAX_LAG)
    assert not path.learnt and path.echo_power(np.full(LAGS + 3, 0.1)) == pytest.approx(0.1)
    ref = speechy(N + LAGS - 1)
    path.learn(heard(ref, 5, None), ref)
    assert path.delay_blocks is None and path.learnt
    assert float(path.ceiling.max()) < 10 ** (-40 / 10)  # under the room's floor / the reply
    assert path.echo_power(ref[-(LAGS + 3) :]) < 10 ** (-50 / 10)


def test_a_mic_30_db_down_finds_the_delay_and_the_gain() -> None:
    path = EchoPath(lags=LAGS, max_lag=MAX_LAG)
    ref = speechy(N + LAGS - 1)
    path.learn(heard(ref, 7, -30.0), ref)
    assert path.delay_blocks == 7
    assert 10 * np.log10(path.gain_power) == pytest.approx(-30, abs=2)


def test_the_ceiling_never_sits_under_the_echo_at_its_delay() -> None:
    """Before the delay is found the ceiling stands for the echo: at its lag it must not
    be under the true gain (a few dB of block jitter aside), or the device hears itself."""
    path = EchoPath(lags=LAGS, max_lag=MAX_LAG)
    ref = speechy(N + LAGS - 1, seed=3)
    mic = heard(ref, 9, -12.0)
    path.learn(mic, ref)  # (the ceiling is learnt before the delay is looked for)
    assert 10 * np.log10(path.ceiling[9]) >= -12 - 3
    window = ref[-(LAGS + 3) :]
    echo = 10 ** (-12 / 10) * window[LAGS - 1 - 9 : LAGS - 1 - 9 + 4]
    assert path.echo_power(window) >= float(echo.max()) * 0.5


def test_nothing_learnt_from_blocks_that_were_not_recorded() -> None:
    path = EchoPath(lags=LAGS, max_lag=MAX_LAG)
    ref = speechy(N + LAGS - 1)
    silent = np.zeros(N)  # the mic stream began after these blocks: zeros, not silence
    path.learn(silent, ref, recorded=3)
    assert not path.learnt and float(path.ceiling.min()) == 1.0
    path.learn(silent, ref, recorded=0)
    assert float(path.ceiling.min()) == 1.0


def test_a_caller_over_part_of_a_reply_raises_the_ceiling_little() -> None:
    path = EchoPath(lags=LAGS, max_lag=MAX_LAG)
    ref = speechy(N + LAGS - 1)
    quiet = heard(ref, 5, None)
    path.learn(quiet, ref)
    learnt = path.ceiling.copy()
    caller = quiet.copy()
    caller[-60:] += 10 ** (-15 / 10)  # the last 0.6 s of the 2 s span: a loud caller
    path.learn(caller, ref)
    assert float(path.ceiling.max()) < 10 ** (-40 / 10)  # still "the mic hears nothing"
    # early in a reply (0.4 s recorded, the caller over the last 0.3 s of it) a ceiling
    # learnt rises at most 3 dB per estimate
    path.ceiling = learnt.copy()
    path.learn(caller, ref, recorded=40)
    assert np.all(path.ceiling <= learnt * 2.0 + 1e-15)


def test_a_ceiling_learnt_from_many_loud_blocks_follows_a_louder_path() -> None:
    """A speaker moved nearer (or turned up) is learnt again from a second of its echo
    (the ceiling, which stands for the echo while its delay is not found, and the delay)."""
    path = EchoPath(lags=LAGS, max_lag=MAX_LAG)
    ref = speechy(N + LAGS - 1)
    path.learn(heard(ref, 5, None), ref)
    assert float(path.ceiling.max()) < 10 ** (-40 / 10)
    path.learn(heard(ref, 5, -20.0), ref)
    assert path.delay_blocks == 5
    assert 10 * np.log10(float(path.ceiling[5])) == pytest.approx(-20, abs=2)


def test_the_reference_and_the_lags_must_agree() -> None:
    with pytest.raises(ValueError):
        EchoPath(lags=10, max_lag=10)
    with pytest.raises(ValueError):
        EchoPath(lags=LAGS, max_lag=MAX_LAG).learn(np.ones(N), np.ones(N))
