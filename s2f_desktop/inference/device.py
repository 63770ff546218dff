"""Resolve the compute device once per process and say why.

The analyst's preference (settings or ``--device``) is ``auto``, ``cpu`` or ``cuda``.
``auto`` picks CUDA when a usable GPU is present. Asking for ``cuda`` where there is none
is an error rather than a silent fallback, so a recorded device is always the one used.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generic, TypeVar

import torch

from s2f_desktop.core.errors import DeviceError
from s2f_desktop.system.settings import DEVICES

CHOICES = DEVICES  # the one definition lives with the settings


@dataclass(frozen=True)
class DeviceInfo:
    """The device in use and a human-readable description for records and the GUI."""

    torch_device: str
    description: str


@functools.lru_cache(maxsize=None)
def resolve_device(preference: str = "auto") -> DeviceInfo:
    """Map a preference to a concrete torch device (cached: resolved once per process)."""
    if preference not in CHOICES:
        raise DeviceError(f"unknown device {preference!r}; choose one of {', '.join(CHOICES)}")
    has_cuda = torch.cuda.is_available()
    if preference == "cuda" and not has_cuda:
        raise DeviceError("CUDA was requested but no usable NVIDIA GPU is available; choose 'cpu' or 'auto'")
    if preference in ("auto", "cuda") and has_cuda:
        name = torch.cuda.get_device_name(0)
        return DeviceInfo("cuda:0", f"cuda:0 ({name}, torch {torch.__version__})")
    return DeviceInfo("cpu", f"cpu (torch {torch.__version__}, {torch.get_num_threads()} threads)")


def available_devices() -> list[str]:
    """Devices a user can pick from on this machine (for settings dialogs)."""
    return ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])


S = TypeVar("S")


class PerDevice(Generic[S]):
    """Loaded systems kept for the process: one per resolved device, model id and models folder.

    ``load(device, model_id)`` builds a system (and verifies its files) the first time a key is
    asked for; every later call returns the same object, so a batch pays the loading once. The
    models folder is part of the key, so a process whose ``S2F_MODELS_DIR`` changes never gets
    a system loaded from another folder. A resolved CUDA device is passed on as ``"cuda"``.
    """

    def __init__(self, load: Callable[[str, str], S]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._loaded: dict[tuple[str, str, str], S] = {}

    def get(self, device: str, model_id: str) -> S:
        """The system for a device preference (``auto``, ``cpu``, ``cuda``) and model id."""
        from s2f_desktop.system.env import models_dir

        torch_device = resolve_device(device).torch_device
        key = (torch_device, model_id, str(Path(models_dir()).resolve()))
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = self._load(torch_device if torch_device == "cpu" else "cuda", model_id)
            return self._loaded[key]
