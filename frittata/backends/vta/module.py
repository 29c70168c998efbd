"""The built VTA module: accelerator calls on the simulator, host parts native.

`run` copies each call's non-constant operands into the simulator's DRAM, executes the call's
instruction stream and reads its result back, in dependency order, then runs the final host
part.  Built by `frittata.backends.vta.build`; written and read back by `saved`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from frittata.backends import fileformat
from frittata.backends.runtime import time_runs
from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram, DramBuffer
from frittata.backends.vta.saved import EmittedCall, HostRunner, read_vta, save_vta
from frittata.backends.vta.hw.simulator import Simulator
from frittata.terms.interp import check_inputs
from frittata.terms.program import Program


class VtaModule:
    """A program split between the VTA simulator and native host code; `run` / `__call__` take
    the program's named inputs and return a dict of outputs, like `runtime.Module`.  `calls`
    are (host parts computing x, w and bias; the emitted stream), `final` computes the
    outputs; `save` writes everything to one file that `frittata.load` reads back."""

    def __init__(self, cfg: VtaConfig, inputs: dict, outputs: dict, sim: Simulator,
                 calls: Sequence[tuple[Sequence[HostRunner], EmittedCall]], final: HostRunner,
                 report: dict) -> None:
        self.cfg, self.inputs, self.outputs, self.sim = cfg, inputs, outputs, sim
        self.calls, self.final, self.report = calls, final, report
        self.program: Program | None = None
        """The optimized program `compile` built this from (not saved with the module)."""
        self.last_reports: list = []

    def run(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        check_inputs(self.inputs, inputs, "vta module")
        env: dict[str, np.ndarray] = dict(inputs)
        self.last_reports = []
        dram = self.sim.machine.dram
        for i, (parts, lowered) in enumerate(self.calls):
            for part, buf in zip(parts[:2], lowered.inputs):
                if not part.constant:
                    self._write(dram, buf, part.run(env)["v"])
            self.last_reports.append(self.sim.execute(lowered.program.instructions))
            env[f"vta{i}"] = lowered.read(dram)
        return self.final.run(env)

    __call__ = run

    def __repr__(self) -> str:
        ins = ", ".join(f"{n}: {t}" for n, t in self.inputs.items())
        outs = ", ".join(f"{n}: {t}" for n, t in self.outputs.items())
        return f"<VtaModule ({ins}) -> ({outs}); {len(self.calls)} accelerator call(s) on {self.cfg.name}>"

    def benchmark(self, inputs: dict[str, np.ndarray], repeat: int = 20, warmup: int = 2) -> dict[str, float]:
        """Wall time of `run` (simulator included) in milliseconds: median, min and max."""
        return time_runs(self.run, inputs, repeat, warmup)

    @staticmethod
    def _write(dram: Dram, buf: DramBuffer, array: np.ndarray) -> None:
        dram.data[buf.addr:buf.addr + buf.nbytes] = np.ascontiguousarray(array).reshape(-1).view(np.uint8)

    def save(self, path) -> None:
        """Write the module to one checksummed file (`frittata.backends.vta.saved`)."""
        save_vta(self, path)

    @classmethod
    def load(cls, saved: fileformat.Saved, threads: int | None = None) -> VtaModule:
        """The module `save` wrote (`saved` is the decoded, checksum-verified file)."""
        image = read_vta(saved, threads)
        return cls(image.cfg, image.inputs, image.outputs, image.sim, image.calls, image.final,
                   image.report)
