"""A local OpenAI Realtime (GA protocol) server on loopback, for the demo and the tests.

``python -m tools.realtime_emulator --port 0 --script tools/scenarios/demo.yaml`` runs it;
tests use ``Emulator`` in their own event loop. The scenario format is documented in
``tools.realtime_emulator.scenario``; the fault switches in ``tools.realtime_emulator.faults``
and ``switches`` (run-time control: ``Emulator.configure`` / ``inject`` / ``heal``, or over
HTTP for a subprocess: ``control``).
"""

from tools.realtime_emulator.scenario import Scenario, ScenarioError
from tools.realtime_emulator.server import Emulator

__all__ = ["Emulator", "Scenario", "ScenarioError"]
