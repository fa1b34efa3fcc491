"""Push-to-talk: the pure button state machine and its gpiozero adapter."""
