"""Compute (once) and cache the voice features of every training clip.

Features are computed by the very function ``s2f analyze`` uses
(:func:`s2f_desktop.inference.features.part_features`: PyAV/libsndfile decoding, silero VAD,
the quality gate, torchaudio resampling, trimming, GE2E and Praat with the same settings),
for the clean clip and for its simulated telephone-band version (the channel is applied to
the decoded audio, before the analysis path, as a real call would be). They are cached as
one small ``.npz`` per clip and variant under a cache folder outside the repository
(default ``/tmp/s2f-train-cache``), keyed by a feature-code version, so a re-run after an
interruption continues where it stopped and a change of the feature code starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from s2f_desktop.training.data import Item

#: Bump when the feature code changes (invalidates caches).
FEATURE_VERSION = "f2-analyze-path"
VARIANTS = ("clean", "telephone")
#: Channels the heads are only evaluated on, never trained on (real codecs; see training/codecs.py):
#: AMR-NB calls at both ends of its rates, a fixed-network call (G.711 mu-law), a mobile-to-landline
#: call (AMR-NB then G.711), a low-rate VoIP call (G.723.1), Opus as a voice message, as a
#: wideband call losing 10 % of its packets in bursts, and as a low-rate VoIP call (with and without
#: 10 % of its packets lost one by one), and a low-rate MP3.
EVAL_VARIANTS = ("amr-nb-12200", "amr-nb-4750", "g711-64000", "tandem-amr-nb-12200-g711", "g723.1-6300",
                 "opus-16000", "opus-16000-burst10", "opus-8000", "opus-8000-loss10", "mp3-24000")

#: Fixed-rate call channels of :data:`EVAL_VARIANTS` and the function of training/codecs.py that makes each.
_CALL_CODECS = {"g711-64000": "g711", "tandem-amr-nb-12200-g711": "amr_nb_to_g711", "g723.1-6300": "g723_1"}


def clip_features(path: Path, variant: str, encoder: Any) -> Any:
    """The analysis path's :class:`PartFeatures` of one training clip and channel variant."""
    from s2f_desktop.inference.features import part_features

    x, sr = variant_audio(path, variant)
    return part_features(x, sr, encoder)


def variant_audio(path: Path, variant: str) -> tuple[np.ndarray, int]:
    """A training clip decoded as the analysis path does, through its channel variant."""
    from s2f_desktop.inference.features import decode_mono
    from s2f_desktop.voice.channel import telephone_band

    x, sr = decode_mono(path)
    if variant == "telephone":
        x = telephone_band(x, sr)
    elif variant.startswith("amr-nb-"):  # evaluation only: a coded mobile call at 8 kHz (training/codecs.py)
        from s2f_desktop.training.codecs import amr_nb

        x, sr = amr_nb(x, sr, int(variant.removeprefix("amr-nb-")))
    elif variant in _CALL_CODECS:  # evaluation only: a fixed-network, transcoded or low-rate VoIP call
        from s2f_desktop.training import codecs

        x, sr = getattr(codecs, _CALL_CODECS[variant])(x, sr)
    elif m := re.fullmatch(r"opus-(\d+)(?:-(loss|burst)(\d+))?", variant):  # evaluation only
        from s2f_desktop.training.codecs import BURST_PACKETS, opus
        from s2f_desktop.training.degrade import clip_seed

        rate, how, lost = m.groups()
        x, sr = opus(x, sr, int(rate), float(lost or 0) / 100.0, clip_seed(path.name, variant),
                     BURST_PACKETS if how == "burst" else 1.0)
    elif variant.startswith("mp3-"):  # evaluation only
        from s2f_desktop.training.codecs import mp3

        x, sr = mp3(x, sr, int(variant.removeprefix("mp3-")))
    elif variant.startswith(("noise-", "speech-", "clip-")):  # evaluation only: training/degrade.py
        from s2f_desktop.training.degrade import degrade

        x = degrade(x, sr, variant, path.name)
    return x, sr


def current_quality(path: Path, variant: str, regions: np.ndarray) -> dict[str, Any]:
    """The quality report of today's gate on one clip's variant with its (cached) speech regions."""
    from s2f_desktop.audio.quality import assess

    x, sr = variant_audio(path, variant)
    return _gate_record(assess(x, sr, speech=[(float(a), float(b)) for a, b in regions]))


def _gate_record(q: Any) -> dict[str, Any]:
    """What the trainer keeps of a quality report: the gate's inputs (unrounded, as the app compares
    them) and what the card's quality-gate section counts."""
    from s2f_desktop.audio.quality import failed_checks

    return {"verdict": q.verdict, "net_speech_s": q.net_speech_s, "reasons": list(q.reasons), "snr_db": q.snr_db,
            "clipping_fraction": q.clipping_fraction, "failed": list(failed_checks(q))}


def _gate_version() -> str:
    """A hash of the quality gate's code: cached verdicts are recomputed whenever the gate changes
    (its syntax tree, so an edited comment does not cost a recomputation)."""
    import ast
    import inspect

    from s2f_desktop.audio import quality

    return hashlib.sha1(ast.dump(ast.parse(inspect.getsource(quality))).encode()).hexdigest()[:12]


def load_cached(item: Item, variant: str, cache_dir: Path) -> dict[str, Any] | None:
    """The cached record of one clip (embedding, acoustics, ok, quality, regions, speech16), or None."""
    f = cache_dir / _key(item, variant)
    if not f.is_file():
        return None
    with np.load(f, allow_pickle=False) as z:
        return {"embedding": z["embedding"], "acoustics": json.loads(str(z["acoustics"])), "ok": bool(z["ok"]),
                "quality": json.loads(str(z["quality"])), "regions": z["regions"],
                "speech16": z["speech16"].astype(np.float32) / 32767.0}


def _key(item: Item, variant: str) -> str:
    # Resolved, so ../shared/data and /work/shared/data share one cache entry.
    h = hashlib.sha1(f"{FEATURE_VERSION}|{item.path.resolve()}|{variant}".encode()).hexdigest()[:16]
    return f"{variant}/{h}.npz"


def compute_features(items: list[Item], cache_dir: Path, variants: tuple[str, ...] = VARIANTS,
                     device: str = "cpu", log: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """{variant: {"x": (n, d) head inputs, "ok": (n,) bool, "gate_inputs": [(voiced s, F0 median, quality
    verdict, net speech s)], "quality": [today's gate record of each clip]}} in ``items`` order (the analysis
    path's own values); cached per clip."""
    from s2f_desktop.inference.embedding import get_encoder
    from s2f_desktop.inference.traits import VoiceFeatures
    from s2f_desktop.voice.acoustics import AcousticMeasures

    encoder = get_encoder(device)
    out: dict[str, dict[str, Any]] = {}
    # Today's quality verdicts of cached clips, kept per version of the gate's source code.
    vfile = cache_dir / f"gate-verdicts-v3-{_gate_version()}.json"
    try:
        verdicts: dict[str, dict[str, Any]] = json.loads(vfile.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or a damaged file: recompute
        verdicts = {}
    computed: dict[str, dict[str, Any]] = {}  # the records this run computed (new or replacing stale ones)

    def save_verdicts() -> None:
        if computed:
            import fcntl  # training runs on Linux; the lock serialises runs saving at the same moment

            vfile.parent.mkdir(parents=True, exist_ok=True)
            with open(vfile.with_suffix(".lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                # Only this run's records are merged over what is on disk now, so two runs filling
                # different variants keep both, and neither writes back a record the other replaced.
                try:
                    on_disk = json.loads(vfile.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    on_disk = {}
                tmp = vfile.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps({**on_disk, **computed}, sort_keys=True), encoding="utf-8")
                os.replace(tmp, vfile)  # whole or not at all: a killed run leaves the previous file

    t0 = time.perf_counter()
    done = 0
    for variant in variants:
        rows, ok = [], []
        gate: list[tuple[float | None, float | None, str, float | None]] = []
        quality: list[dict[str, Any]] = []
        for i, it in enumerate(items):
            f = cache_dir / _key(it, variant)
            if f.is_file():
                with np.load(f, allow_pickle=False) as z:
                    emb, ac = z["embedding"], json.loads(str(z["acoustics"]))
                    good = bool(z["ok"])
                    regions = z["regions"]
                # The cached verdict is of the gate at caching time: re-run today's gate.
                qd = verdicts.get(_key(it, variant))
                if qd is None:
                    qd = current_quality(it.path, variant, regions)
                    verdicts[_key(it, variant)] = computed[_key(it, variant)] = qd
            else:
                pf = clip_features(it.path, variant, encoder)
                qd = _gate_record(pf.quality)
                verdicts[_key(it, variant)] = computed[_key(it, variant)] = qd
                if pf.features is not None:
                    emb, ac, good = pf.features.embedding, pf.features.acoustics.values, True
                else:  # a clip too short/silent for features: keep a row, mark it
                    log(f"  {it.id} ({variant}): no features ({pf.quality.net_speech_s:.1f} s of speech)")
                    emb, ac, good = np.zeros(256, np.float32), {}, False
                f.parent.mkdir(parents=True, exist_ok=True)
                pcm = np.clip(np.round(pf.speech16 * 32767.0), -32768, 32767).astype(np.int16)
                # Written whole or not at all: a killed run must not leave a truncated file the next run accepts.
                tmp_f = f.with_name(f"{f.name}.{os.getpid()}.tmp")
                with open(tmp_f, "wb") as fh:
                    np.savez(fh, embedding=emb, acoustics=np.array(json.dumps(ac)), ok=np.array(good),
                             quality=np.array(json.dumps(pf.quality.to_dict())),
                             regions=np.asarray(pf.regions, dtype=np.float64).reshape(-1, 2), speech16=pcm)
                os.replace(tmp_f, f)
                done += 1
                if done % 100 == 0:
                    log(f"  features: {done} computed ({variant} {i + 1}/{len(items)}, "
                        f"{time.perf_counter() - t0:.0f} s)")
            rows.append(VoiceFeatures(np.asarray(emb), AcousticMeasures(ac)).vector())
            ok.append(good)
            gate.append((ac.get("voiced_duration"), ac.get("f0_median"), str(qd["verdict"]),
                         qd.get("net_speech_s")))
            quality.append(qd)
        out[variant] = {"x": np.stack(rows), "ok": np.array(ok), "gate_inputs": gate, "quality": quality}
    save_verdicts()
    return out
