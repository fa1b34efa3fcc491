"""Wake word: the WakeDetector interface, openWakeWord on onnxruntime, the threaded listener."""
