"""The device a measurement was taken on: a key naming everything a kernel's time depends on.

    llvm/<LLVM cpu name>/<fp32 lanes>-lanes/<threads>-threads/<hash of the CPU features>

Records carry the key, so a record measured on one machine prices kernels on any machine of the
same kind (same CPU, features and thread count), and workers of a fleet register under it (as
TVM's RPC tracker keys its devices).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Device:
    """A measuring machine as records name it (see the module docstring)."""

    key: str
    cpu: str
    cpu_name: str
    features: str
    lanes: int
    threads: int

    def target(self) -> dict:
        """What a record stores about the device besides its key."""
        return {"cpu": self.cpu, "cpu_name": self.cpu_name, "features": self.features, "lanes": self.lanes,
                "threads": self.threads}


def host_device(threads: int | None = None) -> Device:
    """This machine, running kernels on `threads` threads (default: every CPU, as `build` does)."""
    from frittata.backends.jit import host, marketing_name

    target = host()
    count = max(1, int(threads or os.cpu_count() or 1))
    features = hashlib.sha256(target.features.encode()).hexdigest()[:8]
    key = f"llvm/{target.cpu}/{target.lanes}-lanes/{count}-threads/{features}"
    return Device(key, target.cpu, marketing_name(), target.features, target.lanes, count)
