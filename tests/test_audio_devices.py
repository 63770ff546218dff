"""Playback and recording with fake streams, recording into evidence, and a PulseAudio loopback."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from s2f_desktop.audio.devices import Player, Recorder
from s2f_desktop.core.errors import DeviceError
from s2f_desktop.services.audio import record_evidence
from s2f_desktop.services.evidence import list_evidence


class FakeOutput:
    """Drives the callback synchronously in blocks of 100 frames when pumped."""

    def __init__(self, samplerate, channels, dtype, callback, finished_callback, device):
        self.channels, self.callback, self.finished = channels, callback, finished_callback
        self.out: list[np.ndarray] = []
        self.active = False

    def start(self):
        self.active = True

    def pump(self, blocks):
        import sounddevice as sd
        for _ in range(blocks):
            buf = np.full((100, self.channels), np.nan, dtype=np.float32)
            try:
                self.callback(buf, 100, None, None)
                self.out.append(buf)
            except sd.CallbackStop:
                self.out.append(buf)
                self.active = False
                self.finished()
                return

    def stop(self):
        if self.active:
            self.active = False
            self.finished()

    def close(self):
        pass


def test_player_positions_finish_and_stop():
    streams = []
    player = Player(lambda **kw: streams.append(FakeOutput(**kw)) or streams[-1])
    positions, finished = [], []
    x = np.linspace(-1, 1, 250, dtype=np.float32)
    player.play(x, 8000, on_position=positions.append, on_finished=lambda: finished.append(1), start_offset=1000)
    streams[0].pump(10)
    assert positions == [1100, 1200, 1250] and finished == [1] and not player.playing
    played = np.concatenate(streams[0].out)[:, 0]
    np.testing.assert_array_equal(played[:250], x) and np.testing.assert_array_equal(played[250:], 0)
    player.play(x, 8000, on_finished=lambda: finished.append(2))
    streams[1].pump(1)
    player.stop()
    assert finished == [1, 2] and player.position == 100


def test_player_device_error_is_clear():
    def broken(**kw):
        raise RuntimeError("Error querying device -1")
    with pytest.raises(DeviceError, match="starting playback failed"):
        Player(broken).play(np.zeros(10, np.float32), 8000)


class FakeInput:
    def __init__(self, samplerate, channels, dtype, callback, device, fail_on_stop=False):
        self.callback, self.channels, self.sr = callback, channels, samplerate

    def start(self):
        t = np.arange(self.sr) / self.sr
        tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[:, None].repeat(self.channels, 1)
        for i in range(0, tone.shape[0], 480):
            self.callback(tone[i:i + 480], 480, None, None)

    def stop(self):
        pass

    def close(self):
        pass


def test_recording_becomes_hashed_evidence(ctx, case, tmp_path):
    rec = Recorder(lambda **kw: FakeInput(**kw), tmp_dir=tmp_path)
    rec.start(sr=16000, channels=1)
    ev = record_evidence(ctx, case.number, rec)
    assert ev.media.sample_rate == 16000 and ev.media.frames == 16000 and ev.sha256 == rec.sha256
    assert ev.original_name.startswith("recording-") and not list(tmp_path.glob("s2f-rec-*"))


def test_recorder_failures_leave_no_evidence(ctx, case, tmp_path):
    def no_device(**kw):
        raise RuntimeError("Error opening InputStream: Invalid device")
    rec = Recorder(no_device, tmp_dir=tmp_path)
    with pytest.raises(DeviceError, match="opening the input device failed"):
        rec.start()
    silent = Recorder(lambda **kw: type("S", (), {"start": lambda s: None, "stop": lambda s: None,
                                                  "close": lambda s: None})(), tmp_dir=tmp_path)
    silent.start()
    with pytest.raises(DeviceError, match="no audio was recorded"):
        record_evidence(ctx, case.number, silent)
    assert list_evidence(ctx, case.number) == [] and not list(tmp_path.glob("s2f-rec-*"))


def test_pulseaudio_null_sink_loopback(pulse_null_sink, tmp_path):
    code = """
import sys, threading, numpy as np, soundfile as sf, sounddevice as sd
from s2f_desktop.audio.devices import Player, Recorder, list_output_devices
names = [d['name'] for d in list_output_devices()]
if 'pulse' not in names:
    print('SKIP no pulse device', names); sys.exit(0)
rec = Recorder(); rec.start(device='pulse', sr=16000, channels=1)
done = threading.Event(); p = Player()
t = np.arange(16000) / 16000
p.play((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), 16000, on_finished=done.set, device='pulse')
assert done.wait(20)
path = rec.stop(); x, sr = sf.read(path)
spec = np.abs(np.fft.rfft(x)); f = np.fft.rfftfreq(x.size, 1 / sr)[spec.argmax()]
print('PEAK', f, np.abs(x).max())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ))
    if "SKIP" in out.stdout:
        pytest.skip(out.stdout.strip())
    assert out.returncode == 0, out.stderr[-500:]
    peak = float(out.stdout.split("PEAK")[1].split()[0])
    assert abs(peak - 1000) < 20
