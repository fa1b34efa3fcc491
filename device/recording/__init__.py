"""Recording: each conversation's transcript and, with consent, its audio (opt-in, off by
default), in the state folder for a while.

- settings.py: the ``recording:`` section (transcripts, audio, consent, retention_days,
  max_mb, state_dir);
- conversation_record.py: one conversation's reports and audio to file operations (pure:
  no clock, no I/O), the JSON lines and the per-turn WAV files; ops.py: those operations;
- retention.py: which recordings to delete (pure decision: age, then size, oldest first)
  and its adapter;
- writer.py: the thread that writes the files (0600, in folders 0700, never outside the
  recordings folder), fed by a bounded queue;
- service.py: `RecorderService`, a service and an audio tap (device/services/ports.py),
  and `build_recorder`.

docs/recording.md describes a recording's files.
"""
