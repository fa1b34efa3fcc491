"""systemd: the notify protocol (READY, STATUS, WATCHDOG, STOPPING) and the journal.

`notify` is pure (texts and messages); `service` is the `SystemdService` the daemon runs
beside the conversation; `journal` sets logging up for journald when systemd runs us.
"""
