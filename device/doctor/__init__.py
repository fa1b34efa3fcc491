"""`voice-kiosk doctor`: is this device ready? Each check says what it found and what to do.

- ``checkup``: every check in order, each under a deadline; the table or the JSON object,
  and the exit code (0 all passed, 1 a check failed, 2 a bad config);
- ``checks``: config-independent and non-audio checks (the key, the Realtime session,
  wake word, button, LEDs, disk, clock, the unit and its hardening);
- ``audio``: the sound cards opened once (no retrying), the level meter and the tone that
  ``doctor --meter`` and ``--tone`` show too;
- ``machine``: this machine's places and commands (a test passes its own);
- ``result``: one check's result, the table and the JSON (pure).

Nothing is imported here: the command line's parser imports this package lazily.
"""
