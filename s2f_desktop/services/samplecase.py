"""A sample case built through the services from real speech (report tests, benchmark, demonstrations).

Everything goes through the same service functions the CLI and GUI use: create the case,
import recordings, mark segments, analyse, create composites, adjust one. The speech is
real: an espeak-ng dialogue (a male and a female voice taking turns), Debian's asterisk
telephone prompts (a recorded human voice at 8 kHz) when installed, and a very short
stretch of speech on which the models must abstain. Nothing here writes results by hand:
every stored number comes from the shipped analysis path.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s2f_desktop.core.errors import InputError
from s2f_desktop.core.models import AnalysisRun, Composite, Evidence
from s2f_desktop.services import analysis, cases, evidence, segments
from s2f_desktop.services.context import AppContext

#: The dialogue: (espeak-ng voice, text). Male turns first, then the female turn.
DIALOGUE = (
    ("en-us+m3", "Listen carefully. I know where the manager lives, and I know when the branch opens in the "
                 "morning. You will put the money in the bag before nine o'clock."),
    ("en-us+m3", "Do not call the police. If anybody follows the car, the whole arrangement is finished, and you "
                 "will regret it for a very long time."),
    ("en-us+f3", "This is the branch office. I am sorry, but I do not understand what you want. Could you please "
                 "repeat the message slowly, so that I can write it down?"),
)
#: Asterisk prompts joined into one telephone exhibit (the en_US_f_Allison voice).
PROMPTS = ("demo-abouttotry", "all-circuits-busy-now", "please-try-call-later", "pls-hold-while-try",
           "agent-newlocation")
PROMPT_DIRS = (Path("/usr/share/asterisk/sounds/en_US_f_Allison"), Path("/usr/share/asterisk/sounds/en"))


@dataclass(frozen=True)
class SampleCase:
    """What :func:`build_sample_case` stored."""

    number: str
    dialogue: Evidence
    telephone: Evidence | None
    runs: tuple[AnalysisRun, ...]  # female turn, male turns, telephone, abstention
    composites: tuple[Composite, ...]  # of the male-turns run, the analyst edit last

    @property
    def male_run(self) -> AnalysisRun:
        """The run over the two male turns (the one with composites)."""
        return self.runs[1]


def prompts_dir() -> Path | None:
    """The English asterisk prompts in either Debian layout (None when not installed)."""
    return next((d for d in PROMPT_DIRS if all((d / f"{p}.wav").is_file() for p in PROMPTS)), None)


def _espeak(voice: str, text: str, out: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    if shutil.which("espeak-ng") is None:
        raise InputError("espeak-ng is needed for the sample case (apt-get install espeak-ng)")
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(out), text], check=True, capture_output=True)
    x, sr = sf.read(str(out), dtype="float32")
    return x, int(sr)


def _import(ctx: AppContext, number: str, path: Path) -> Evidence:
    res = evidence.import_file(ctx, number, path)
    if res.evidence is None:
        raise InputError(f"{path.name}: {res.error}")
    return res.evidence


def build_sample_case(ctx: AppContext, workdir: Path, number: str = "2026-0042", *, device: str = "cpu",
                      composites: bool = True, composite_size: int = 96) -> SampleCase:
    """Create, analyse and (optionally) render a sample case; files are written under ``workdir``."""
    import soundfile as sf

    workdir.mkdir(parents=True, exist_ok=True)
    cases.create_case(ctx, number, "Threatening call to a bank branch", analyst="A. Analyst", agency="Example Police")
    # The dialogue: turns separated by 0.8 s of pause, a little line noise (deterministic).
    pieces: list[np.ndarray] = []
    turns: list[tuple[int, int]] = []
    sr = 22050
    for i, (voice, text) in enumerate(DIALOGUE):
        x, sr = _espeak(voice, text, workdir / f"turn{i}.wav")
        pieces.append(np.zeros(int(0.8 * sr), np.float32))
        start = sum(len(p) for p in pieces)
        pieces.append(0.8 * x)
        turns.append((start, start + len(x)))
    pieces.append(np.zeros(int(0.8 * sr), np.float32))
    y = np.concatenate(pieces)
    y = y + np.random.default_rng(7).normal(0, 0.003, y.shape).astype(np.float32)
    call = workdir / f"call-{number}.wav"
    sf.write(str(call), y, sr, subtype="PCM_16")
    dialogue = _import(ctx, number, call)
    segs = [segments.add_segment(ctx, number, dialogue.id, a, b, label=f"turn {i + 1}",
                                 speaker_tag="A" if i < 2 else "B") for i, (a, b) in enumerate(turns)]
    # One run per speaker: a selection of both voices is refused as one profile (the calibrated
    # speaker check splits it), so the female turn and the two male turns are analysed apart.
    runs = [analysis.analyze_selection(ctx, number, [segs[2].id], device=device),
            analysis.analyze_selection(ctx, number, [segs[0].id, segs[1].id], device=device)]
    telephone = None
    pdir = prompts_dir()
    if pdir is not None:
        parts = [sf.read(str(pdir / f"{p}.wav"), dtype="float32") for p in PROMPTS]
        tsr = int(parts[0][1])
        gap = np.zeros(int(0.5 * tsr), np.float32)
        tel = np.concatenate([np.concatenate([x, gap]) for x, _ in parts])
        tel_path = workdir / "voicemail-8k.wav"
        sf.write(str(tel_path), tel, tsr, subtype="PCM_16")
        telephone = _import(ctx, number, tel_path)
        whole = segments.add_segment(ctx, number, telephone.id, 0, telephone.media.frames, label="voicemail",
                                     speaker_tag="C")
        runs.append(analysis.analyze_selection(ctx, number, [whole.id], device=device))
    # Half a second of the first turn: too little speech, the models must abstain.
    a = turns[0][0] + (turns[0][1] - turns[0][0]) // 2
    short = segments.add_segment(ctx, number, dialogue.id, a, a + sr // 2, label="fragment", speaker_tag="A")
    runs.append(analysis.analyze_selection(ctx, number, [short.id], device=device))
    made: list[Composite] = []
    if composites:
        from s2f_desktop.services import composites as comp_svc

        made = comp_svc.create_composite_set(ctx, runs[1].id, views=("front",), size=composite_size)
        made.append(comp_svc.adjust_composite(ctx, made[0].id, {"face_fullness": 0.6}))
    return SampleCase(number, dialogue, telephone, tuple(runs), tuple(made))
