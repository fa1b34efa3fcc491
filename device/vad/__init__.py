"""Local speech detection for barge-in: Silero VAD, the detector, the echo reference.

- ``silero``: the ONNX model through onnxruntime (adapter);
- ``detector``: speech start/stop from window probabilities (pure);
- ``echo``: the playback reference and the echo estimate of the ``reference`` mode (pure);
- ``listener``: the worker-thread adapter the daemon uses;
- ``settings``: ``audio.barge_in`` and ``audio.echo``.
"""
