"""What `Conversation.handle` returns: commands for the daemon and reports for the sinks.

Defined below the engine so the engine's parts can build output lists without importing it.
"""

from __future__ import annotations

from device.conversation.commands import Command
from device.conversation.reports import Report

Output = Command | Report
"""One item of ``Conversation.handle``'s answer, carried out (command) or reported, in order."""
