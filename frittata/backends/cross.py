"""`CrossModule`: an llvm module compiled for another machine than this one (a cross target, or
this architecture with CPU features this host lacks).

It has the signature, report and saved form of a `runtime.Module`, but its code cannot run
here: `run` (and `benchmark`, `profile`) raises `DeployError`, `export_library` writes the
shared library for its machine (linked by that machine's C cross compiler) and `save` writes a
file that `frittata.load` reads back as a `CrossModule` here and as a runnable module on a
machine that has the target's triple and features.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from frittata.backends.jit import machine_of, not_here
from frittata.backends.profile import Profile
from frittata.backends.runtime import CompiledCode
from frittata.errors import DeployError


class CrossModule(CompiledCode):
    def run(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        raise self._elsewhere()

    __call__ = run

    def benchmark(self, inputs: dict[str, np.ndarray], repeat: int = 20, warmup: int = 2) -> dict[str, float]:
        raise self._elsewhere()

    def profile(self, inputs: Mapping[str, np.ndarray], repeat: int = 10, warmup: int = 1) -> Profile:
        raise self._elsewhere()

    def _elsewhere(self) -> DeployError:
        return DeployError(f"module: {not_here(machine_of(self._saved))}; "
                           "export_library() it and run the library on such a machine")

    def export_wasm(self, path: str | Path) -> Path:
        """A `.wasm` module and its layout files (see `frittata.backends.wasm`), for a wasm32 build."""
        from frittata.backends.wasm import export_wasm

        return export_wasm(self._saved, path)

    def __repr__(self) -> str:
        return f"<CrossModule for {self.triple} {self.signature()}>"
