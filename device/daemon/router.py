"""The engine's commands, each to the part of the daemon that owns it (in the order the
engine gave them; reports go to the services instead, see `Daemon.dispatch`)."""

from __future__ import annotations

from device.conversation import (
    AwaitPlayback,
    CancelTimer,
    Connect,
    Disconnect,
    HoldUpload,
    Output,
    Play,
    PlayPrompt,
    ProbeLink,
    Reconnect,
    RunTool,
    Send,
    SetTimer,
    StopPlayback,
    Upload,
)
from device.daemon.audio_path import AudioPath
from device.daemon.lanes import Lanes
from device.daemon.session_keeper import SessionKeeper
from device.daemon.timers import Timers
from device.daemon.tool_runner import ToolRunner


class CommandRouter:
    def __init__(
        self,
        keeper: SessionKeeper,
        audio: AudioPath,
        tools: ToolRunner,
        timers: Timers,
        lanes: Lanes,
    ) -> None:
        self._keeper = keeper
        self._audio = audio
        self._tools = tools
        self._timers = timers
        self._lanes = lanes

    def carry_out(self, output: Output) -> None:
        """One command of the engine's answer (reports are the services': not here)."""
        match output:
            case Send(command=link_command):
                if self._keeper.link is not None:
                    self._lanes.put_control(link_command)
            case Play(item_id=item_id, pcm=pcm):
                self._audio.play(item_id, pcm)
            case PlayPrompt(name=name):
                self._audio.play_prompt(name)
            case StopPlayback(source=source, items=items, device_initiated=device):
                self._audio.stop_playback(source, items, device)
            case Upload(on=on):
                self._audio.set_uploading(on)
            case HoldUpload(on=on):
                self._audio.set_hold(on)
            case Connect(conversation_id=conversation_id):
                self._tools.start_conversation(conversation_id)
                self._keeper.connect()
            case Disconnect():
                self._keeper.disconnect()
            case Reconnect():
                self._keeper.reconnect()
            case ProbeLink():
                self._keeper.probe()
            case RunTool(call=call, context=context):
                self._tools.start(call, context)
            case AwaitPlayback():
                self._audio.await_playback()
            case SetTimer(name=name, delay_ms=delay_ms):
                self._timers.set(name, delay_ms)
            case CancelTimer(name=name):
                self._timers.cancel(name)
            case _:
                pass
