"""Developer shortcut: ``python -m tools.make_prompts`` runs `device.prompts.making`."""

from device.prompts.making import main

if __name__ == "__main__":
    raise SystemExit(main())
