"""Sound cards through PyAudio / PortAudio: the microphone and speaker adapters.

``PyAudioMic`` (AudioInput): PortAudio's callback thread hands each frame to the event loop
with ``loop.call_soon_threadsafe`` into a bounded queue; when the queue is full the oldest
frame is dropped and ``overflows`` counted: the callback never blocks. A device that is
missing, or stops delivering audio (unplugged: stream error or no callback for
``stall_s``), is reported once through ``on_health(False, message)`` and retried every
``retry_s`` until it is back (``on_health(True, message)``); no restart needed.

``PyAudioSpeaker`` (AudioOutput): replies (24 kHz mono PCM16) are resampled to the device
rate with soxr and queued in a ``PlaybackBuffer``; the device's callback pulls exactly one
period at a time, so the playback clock counts what was really handed to the device and
``flush()`` silences it from the next period on, without blocking.

Example::

    mic = PyAudioMic(PyAudioInput(device="ReSpeaker", channels=6), on_health=print)
    async for frame in mic.frames(): ...

The two adapters live in device/audio/pyaudio_mic.py and device/audio/pyaudio_speaker.py;
this module names both.
"""

from device.audio.pyaudio_mic import HealthCallback, PyAudioMic
from device.audio.pyaudio_speaker import PyAudioSpeaker

__all__ = ["HealthCallback", "PyAudioMic", "PyAudioSpeaker"]
