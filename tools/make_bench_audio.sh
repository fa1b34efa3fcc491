#!/usr/bin/env bash
# Makes the committed benchmark recording (rerun only to change it): 60 s, 16 kHz mono
# PCM16, espeak-ng speech mixed by sox with shop-like noise (brown rumble, pink hiss, a
# 100 Hz machine hum, and a few short clangs), plus speech.json: where speech is, derived
# from the speech track alone (10 ms blocks louder than -50 dBFS), the truth that
# speech_kept_ratio in tools/bench.py is measured against.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/bench_audio"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
py="${PYTHON:-$here/../.venv/bin/python}"
mkdir -p "$out"

# utterance start (s) and text; about a quarter of the minute is speech
utterances=(
  "4.0|Hello, where can I find the replacement filters for the band saw?"
  "15.5|Is order four one seven two ready to be picked up today?"
  "27.0|How long does the paint shop need for a batch of twenty doors?"
  "38.5|Can you tell the foreman that line three has stopped?"
  "49.5|Thanks, that is all for now."
)
parts=()
i=0
for u in "${utterances[@]}"; do
  at="${u%%|*}"; text="${u#*|}"
  espeak-ng -v en-us -s 155 -a 120 -w "$tmp/raw$i.wav" "$text"
  sox -q "$tmp/raw$i.wav" -r 16000 -c 1 -b 16 "$tmp/u$i.wav" pad "$at" 0
  parts+=("$tmp/u$i.wav")
  i=$((i + 1))
done
sox -q -n -r 16000 -c 1 -b 16 "$tmp/zero.wav" trim 0 60
sox -q -m "$tmp/zero.wav" "${parts[@]}" "$tmp/speech_long.wav" norm -3
sox -q "$tmp/speech_long.wav" "$tmp/speech.wav" trim 0 60 gain -n -2

# shop floor: rumble, hiss, hum, and clangs (50 ms bursts) every ~7 s
sox -q -n -r 16000 -c 1 -b 16 "$tmp/brown.wav" synth 60 brownnoise vol 0.05
sox -q -n -r 16000 -c 1 -b 16 "$tmp/pink.wav" synth 60 pinknoise vol 0.012
sox -q -n -r 16000 -c 1 -b 16 "$tmp/hum.wav" synth 60 sine 100 vol 0.05
sox -q -n -r 16000 -c 1 -b 16 "$tmp/clang1.wav" synth 0.05 square 1800 vol 0.15 fade 0 0.05 0.04
sox -q -n -r 16000 -c 1 -b 16 "$tmp/gap.wav" trim 0 6.95
sox -q "$tmp/gap.wav" "$tmp/clang1.wav" "$tmp/gap.wav" "$tmp/clang1.wav" "$tmp/gap.wav" \
  "$tmp/clang1.wav" "$tmp/gap.wav" "$tmp/clang1.wav" "$tmp/gap.wav" "$tmp/clang1.wav" \
  "$tmp/gap.wav" "$tmp/clang1.wav" "$tmp/gap.wav" "$tmp/clang1.wav" "$tmp/gap.wav" \
  "$tmp/clang1.wav" "$tmp/clangs.wav"
sox -q "$tmp/clangs.wav" "$tmp/clangs60.wav" pad 0 5 trim 0 60
sox -q -m -v 1 "$tmp/speech.wav" -v 1 "$tmp/brown.wav" -v 1 "$tmp/pink.wav" -v 1 "$tmp/hum.wav" \
  -v 1 "$tmp/clangs60.wav" -b 16 "$out/shop60.wav"

"$py" - "$tmp/speech.wav" "$out/speech.json" <<'PY'
import json, sys, wave
import numpy as np
with wave.open(sys.argv[1], "rb") as w:
    rate = w.getframerate()
    x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
block = rate // 100
n = len(x) // block
rms_db = 10 * np.log10(np.mean(x[: n * block].reshape(n, block) ** 2, axis=1) / 32768**2 + 1e-12)
speech = rms_db > -50.0
runs, start = [], None
for i, s in enumerate(list(speech) + [False]):
    if s and start is None:
        start = i
    if not s and start is not None:
        runs.append([start * 10, i * 10])
        start = None
json.dump({"file": "shop60.wav", "rate_hz": rate, "block_ms": 10, "threshold_dbfs": -50.0,
           "speech_ms": int(speech.sum()) * 10, "duration_ms": n * 10, "speech_spans_ms": runs},
          open(sys.argv[2], "w"), indent=1)
print(f"speech {speech.sum() * 10} ms of {n * 10} ms")
PY
