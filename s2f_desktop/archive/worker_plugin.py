"""Dask worker plugin of the local indexing cluster (imported only where dask.distributed is)."""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from s2f_desktop.archive.engine import pin_process_to_cpu


class OneCorePerWorker(WorkerPlugin):
    """Worker N of a LocalCluster runs on the N-th CPU it may use (see ``engine.pin_process_to_cpu``)."""

    name = "s2f-one-core-per-worker"

    def setup(self, worker: Any) -> None:
        try:
            index = int(worker.name)
        except (TypeError, ValueError):  # not a LocalCluster worker name
            return
        pin_process_to_cpu(index)
