"""Provisioning: ``voice-kiosk provision CONFIG.yaml`` installs a device from a site's config.

A pure plan and an applier, so every step can be shown before it is done and a second
run changes nothing:

- ``plan``: the steps as data (files with their bytes, modes and owners, folders, the
  ``systemctl enable`` links of an image tree, this machine's commands and checks);
- ``installed``: the installed config, the site's file plus ``conversation.prompts_dir``
  when it is unset (pure);
- ``gather``: reads the inputs (the config checked as ``run`` checks it, the prompts in
  the site's words, the wake-word models, the packaged unit files in ``units/``);
- ``apply``: carries out the steps against ``/`` or an image tree, one
  ``ok``/``changed``/``would change``/``failed`` line each;
- ``command``: the command line's entry (the key from a file or stdin, the exit codes).

Nothing is imported here: the command line's parser imports this package lazily.
"""
