"""What `Daemon.stats()` and `Daemon.health()` read, each counter where it lives.

`read_stats` gathers the counters the reports carry (the `Tally`) and those the parts keep
where they happen (lanes, microphones, speaker, capture pipeline, links, sinks, workers);
`read_health` reads the `Heartbeat`'s stamps and the workers' states, safe from any thread.
"""

from __future__ import annotations

from device.conversation.state import State
from device.daemon.audio_path import AudioPath
from device.daemon.heartbeat import Heartbeat
from device.daemon.lanes import Lanes
from device.daemon.session_keeper import SessionKeeper
from device.daemon.supervisor import Supervisor
from device.services.host import ServiceHost
from device.services.ports import Health, Stats
from device.services.tally import Tally


def read_stats(
    state: State,
    tally: Tally,
    audio: AudioPath,
    lanes: Lanes,
    keeper: SessionKeeper,
    host: ServiceHost,
    supervisor: Supervisor,
) -> Stats:
    mics = [audio.mic, *([audio.vad_mic] if audio.vad_mic is not None else [])]
    return Stats(
        state=state.value,
        muted=audio.muted,
        conversations=tally.conversations,
        outcomes=dict(tally.outcomes),
        interruptions=tally.interruptions,
        reconnects=tally.reconnects,
        prompts_played=tally.prompts_played,
        prompt_audio_ms=tally.prompt_audio_ms,
        reply_audio_ms=audio.reply_audio_ms,
        audio_sent_chunks=audio.chunks_sent,
        audio_dropped=lanes.dropped_audio,
        mic_overflows=sum(m.overflows for m in mics),
        speaker_underflows=audio.speaker.underflows,
        capture_consumer_errors=audio.capture_consumer_errors(),
        link_malformed=keeper.malformed(),
        sessions_opened=keeper.manager.opened,
        sink_failures=host.failures,
        worker_failures=supervisor.failures,
    )


def read_health(heartbeat: Heartbeat, keeper: SessionKeeper, supervisor: Supervisor) -> Health:
    return Health(
        mic_frame_age_ms=heartbeat.mic_frame_age_ms(),
        loop_probe_age_ms=heartbeat.probe_age_ms(),
        loop_lag_ms=heartbeat.loop_lag_ms,
        link_manager_alive=keeper.alive,
        workers=supervisor.worker_states(),
    )
