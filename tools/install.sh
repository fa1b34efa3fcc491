#!/usr/bin/env bash
# Installs voice-kiosk on a Raspberry Pi (Pi OS Bookworm or Trixie, 64-bit), or updates it
# in place when run again: the system packages, a venv at /opt/voice-kiosk/venv with
# voice-kiosk in it, the console script at /usr/local/bin/voice-kiosk, the Silero and
# wake-word models, the docs the unit names. Then: voice-kiosk provision CONFIG.yaml.
#
#   sudo tools/install.sh                       # this checkout
#   sudo tools/install.sh --from dist/voice_kiosk-0.1.0-py3-none-any.whl
#   sudo tools/install.sh --from 'git+https://example.org/voice-kiosk.git@v0.1.0'
#   tools/install.sh --dry-run                  # print what it would run; change nothing
#   options: --with-pulseaudio (software echo mode's sound server), --lgpio (a Pi 5's
#   button), --prefix DIR (default /opt/voice-kiosk; the unit expects that one),
#   --bin-link PATH (default /usr/local/bin/voice-kiosk)
#
# PyAudio, systemd-python (and spidev) have no aarch64 wheels: pip builds them in the venv,
# hence a C compiler and their -dev packages (tests/provision/test_wheels.py checks that
# everything else installs from wheels). It changes this machine: never run it in CI.
set -euo pipefail

HERE="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX=/opt/voice-kiosk
SOURCE="$HERE"
DRY_RUN=0
WITH_PULSEAUDIO=0
WITH_LGPIO=0
BIN_LINK=/usr/local/bin/voice-kiosk

usage() {
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
  case "$1" in
    --from) SOURCE="${2:?--from needs a checkout, a wheel or a pip URL}"; shift 2 ;;
    --prefix) PREFIX="${2:?--prefix needs a folder}"; shift 2 ;;
    --bin-link) BIN_LINK="${2:?--bin-link needs a path}"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    --with-pulseaudio) WITH_PULSEAUDIO=1; shift ;;
    --lgpio) WITH_LGPIO=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1 (--help lists them)" >&2; exit 2 ;;
  esac
done

VENV="$PREFIX/venv"
MODELS="$VENV/share/voice-kiosk/models"

# every change goes through run: --dry-run prints it instead
run() {
  if [ "$DRY_RUN" -eq 1 ]; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

say() { printf 'install: %s\n' "$*"; }

if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run it as root (sudo tools/install.sh), or with --dry-run" >&2
  exit 1
fi

# shellcheck source=/dev/null
codename="$( (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || true)"
case "$codename" in
  bookworm|trixie) ;;
  *) say "warning: made for Pi OS Bookworm or Trixie; this is '${codename:-unknown}'" ;;
esac

APT_PACKAGES=(
  python3 python3-venv python3-dev gcc pkg-config   # the venv, and builds of the three below
  portaudio19-dev libportaudio2                     # PyAudio (built in the venv)
  libsystemd-dev                                    # systemd-python (built in the venv)
  libusb-1.0-0                                      # pyusb: the ReSpeaker USB ring
  espeak-ng                                         # the site's prompts (provision)
  ca-certificates
)
[ "$WITH_PULSEAUDIO" -eq 1 ] && APT_PACKAGES+=(pulseaudio pulseaudio-utils)
[ "$WITH_LGPIO" -eq 1 ] && APT_PACKAGES+=(liblgpio-dev swig)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "system packages: ${missing[*]}"
  run apt-get update -qq
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  say "system packages: all there"
fi

# the venv: made once; a venv of another Python (Bookworm upgraded to Trixie) is made anew
system_python="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo none)"
venv_python="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo none)"
if [ "$venv_python" = none ]; then
  say "a venv at $VENV (Python $system_python)"
  run install -d -m 0755 "$PREFIX"
  run python3 -m venv "$VENV"
elif [ "$venv_python" != "$system_python" ]; then
  say "the venv's Python $venv_python is not the system's $system_python: making it anew"
  run python3 -m venv --clear "$VENV"
else
  say "the venv at $VENV: there (Python $venv_python)"
fi

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
run "${PIP[@]}" install -q --upgrade pip
# the checkout, a wheel or a URL; --upgrade: running again updates in place
say "voice-kiosk from $SOURCE"
run "${PIP[@]}" install -q --upgrade "$SOURCE"
# the Silero VAD model ships in the silero-vad wheel; --no-deps keeps torch out
run "${PIP[@]}" install -q --no-deps "silero-vad>=5.1,<7"
[ "$WITH_LGPIO" -eq 1 ] && run "${PIP[@]}" install -q lgpio

# the wake-word models, where the daemon looks (device/wake/models.py): quick when there
if [ -f "$HERE/tools/fetch_models.py" ]; then
  run "$VENV/bin/python" "$HERE/tools/fetch_models.py" --dest "$MODELS"
else
  say "warning: no tools/fetch_models.py beside this script: wake-word models not fetched"
fi

# the command on the PATH, and the docs the unit's Documentation= names
run ln -sfn "$VENV/bin/voice-kiosk" "$BIN_LINK"
if [ -d "$HERE/docs" ]; then
  run install -d -m 0755 "$PREFIX/docs"
  run cp -rT "$HERE/docs" "$PREFIX/docs"
fi

if [ "$DRY_RUN" -eq 1 ]; then
  say "dry run: nothing was changed"
else
  say "done: $("$BIN_LINK" --version)"
fi
say "next: voice-kiosk provision CONFIG.yaml --credential-stdin   (docs/operating.md)"
