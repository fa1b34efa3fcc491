"""Audio: frames, the input/output seam, file and sound-card implementations."""
