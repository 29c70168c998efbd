"""`CrossModule`: an llvm module compiled for another machine than this one (a cross target).

It has the signature, report and saved form of a `runtime.Module`, but its code cannot run
here: `run` (and `benchmark`, `profile`) raises `DeployError`, `export_library` writes the
shared library for its machine (linked by that machine's C cross compiler) and `save` writes a
file that `frittata.load` reads back as a `CrossModule` here and as a runnable module on a
machine of that architecture.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from frittata.backends import fileformat
from frittata.backends.profile import Profile
from frittata.backends.runtime import SAVED_KIND
from frittata.errors import DeployError
from frittata.terms.dtypes import TensorType
from frittata.terms.program import Program


class CrossModule:
    def __init__(self, saved: fileformat.Saved) -> None:
        meta = saved.meta
        self._saved = saved
        self.triple: str = meta["triple"]
        self.inputs = {n: TensorType(tuple(s), d) for n, (s, d) in meta["inputs"].items()}
        self.outputs = {n: TensorType(tuple(s), d) for n, (s, d) in meta["outputs"].items()}
        self.report: dict = meta.get("report", {})
        self.program: Program | None = None
        self.peak_bytes: int = meta["arena_bytes"]

    def run(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        raise self._elsewhere()

    __call__ = run

    def benchmark(self, inputs: dict[str, np.ndarray], repeat: int = 20, warmup: int = 2) -> dict[str, float]:
        raise self._elsewhere()

    def profile(self, inputs: Mapping[str, np.ndarray], repeat: int = 10, warmup: int = 1) -> Profile:
        raise self._elsewhere()

    def _elsewhere(self) -> DeployError:
        return DeployError(f"module: expected to run on a {self.triple} machine, this one is another; "
                           "export_library() it and run the library there")

    def export_library(self, path: str | Path, cc: str | None = None) -> Path:
        """The shared library with the C API (see `frittata.backends.export`) for this module's machine."""
        from frittata.backends.export import export_library

        return export_library(self._saved, path, cc)

    def export_wasm(self, path: str | Path) -> Path:
        """A `.wasm` module and its layout files (see `frittata.backends.wasm`), for a wasm32 build."""
        from frittata.backends.wasm import export_wasm

        return export_wasm(self._saved, path)

    def save(self, path: str | Path) -> None:
        meta = dict(self._saved.meta, kind=SAVED_KIND, report=self.report)
        Path(path).write_bytes(fileformat.encode(fileformat.Saved(meta, self._saved.sections, self._saved.params)))

    def __repr__(self) -> str:
        ins = ", ".join(f"{n}: {t}" for n, t in self.inputs.items())
        outs = ", ".join(f"{n}: {t}" for n, t in self.outputs.items())
        return f"<CrossModule for {self.triple} ({ins}) -> ({outs})>"
