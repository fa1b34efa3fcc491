#!/usr/bin/env bash
# Makes the demo's spoken questions with espeak-ng (committed; rerun only to change them).
# Each is 16 kHz mono PCM16 (a typical mic rate, so the demo exercises resampling) with
# 1 s of silence before the speech (the session opens meanwhile).
set -euo pipefail
cd "$(dirname "$0")/demo_audio"
say() {  # say NAME "TEXT"
  espeak-ng -v en-us -s 150 -w "/tmp/$1.raw.wav" "$2"
  sox -q -n -r 16000 -c 1 -b 16 "/tmp/$1.lead.wav" trim 0 1.0
  sox -q "/tmp/$1.raw.wav" -r 16000 -c 1 -b 16 "/tmp/$1.16k.wav"
  sox -q "/tmp/$1.lead.wav" "/tmp/$1.16k.wav" "$1.wav"
  rm -f "/tmp/$1.raw.wav" "/tmp/$1.lead.wav" "/tmp/$1.16k.wav"
  printf '%s\n' "$2" > "$1.txt"
}
say question "What are your opening hours?"
say job-status "What is the status of job four one seven two?"
say thanks "Thank you, goodbye."
say wake-question "Hey Jarvis, what are your opening hours?"
say sorry "Sorry, just the opening hours."
# the `make demo` caller (`caller: timeline`: it talks on the wall clock, as a real caller
# does): wakes the kiosk and asks in one breath (ends at 3.9 s); the long answer starts at
# about 4.2 s and the caller cuts it short at 7.5 s; the short answer ends by about 13 s;
# goodbye at 15 s. The silences are the gaps between those moments.
gap() { sox -q -n -r 16000 -c 1 -b 16 "/tmp/gap-$1.wav" trim 0 "$1"; }
gap 2.57; gap 4.1
sox -q wake-question.wav /tmp/gap-2.57.wav sorry.wav /tmp/gap-4.1.wav thanks.wav \
  demo-conversation.wav
rm -f /tmp/gap-*.wav
printf '%s\n' "$(cat wake-question.txt)" "$(sed 's/^/.../' sorry.txt)" "$(cat thanks.txt)" \
  > demo-conversation.txt
