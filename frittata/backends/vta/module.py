"""The built VTA module: accelerator calls on the simulator, host parts native.

`run` copies each call's non-constant operands into the simulator's DRAM, executes the call's
instruction stream and reads its result back, in dependency order, then runs the final host
part.  Built by `frittata.backends.vta.build`; written and read back by `saved`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from frittata.backends import fileformat
from frittata.backends.peak import host_peak
from frittata.backends.profile import Profile, Sample, Timed, VtaCounters, collect, samples
from frittata.backends.runtime import time_runs
from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram, DramBuffer
from frittata.backends.vta.hw.timing import Report
from frittata.backends.vta.layers import LayerReport, layer_report
from frittata.backends.vta.saved import EmittedCall, HostRunner, encode_vta, read_vta
from frittata.backends.vta.hw.simulator import Simulator
from frittata.errors import RuntimeInputError
from frittata.terms import builders as tb
from frittata.terms.interp import check_inputs, evaluate
from frittata.terms.program import Program
from frittata.terms.term import Term


class VtaModule:
    """A program split between the VTA simulator and native host code; `run` / `__call__` take
    the program's named inputs and return a dict of outputs, like `runtime.Module`.  `calls`
    are (host parts computing x, w and bias; the emitted stream), `final` computes the
    outputs; `save` writes everything to one file that `frittata.load` reads back.
    `call_facts` say per call its op, the cost model's seconds (`model_s`, None if unknown) and
    the index of its term in `program.terms()` (`term`)."""

    def __init__(self, cfg: VtaConfig, inputs: dict, outputs: dict, sim: Simulator,
                 calls: Sequence[tuple[Sequence[HostRunner], EmittedCall]], final: HostRunner,
                 report: dict, call_facts: Sequence[Mapping] = ()) -> None:
        self.cfg, self.inputs, self.outputs, self.sim = cfg, inputs, outputs, sim
        self.calls, self.final, self.report = calls, final, report
        self.call_facts = list(call_facts) or [{"op": "vta_call", "model_s": None, "term": None} for _ in calls]
        self.program: Program | None = None
        """The optimized program `compile` built this from (not saved with the module)."""
        self.last_reports: list[Report] = []
        """The simulator's counters of each call of the last `run` (`timing.Report`), in order."""
        self.runs = 0
        """How many times `run` has completed."""

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
        outputs = self.final.run(env)
        self.runs += 1
        return outputs

    __call__ = run

    def check_calls(self, **inputs: np.ndarray) -> list[bool]:
        """Run once and say per accelerator call whether its output equals the reference
        interpreter's on the very operands the host parts fed it: the calls' own
        bit-exactness, apart from host parts that compute in float (whose order of summation
        may differ from numpy's).  Needs `program`, so a compiled module, not a loaded one."""
        if self.program is None or any(f["term"] is None for f in self.call_facts):
            raise RuntimeInputError("check_calls: expected a module from compile (it keeps its program), "
                                    "got one without it (loaded from a file?)")
        check_inputs(self.inputs, inputs, "vta module")
        env: dict[str, np.ndarray] = dict(inputs)
        terms, dram, exact = self.program.terms(), self.sim.machine.dram, []
        for i, (parts, lowered) in enumerate(self.calls):
            operands = {f"a{j}": part.run(env)["v"] for j, part in enumerate(parts)}
            for part, buf, value in zip(parts[:2], lowered.inputs, operands.values()):
                if not part.constant:
                    self._write(dram, buf, value)
            self.sim.execute(lowered.program.instructions)
            env[f"vta{i}"] = lowered.read(dram)
            node = terms[self.call_facts[i]["term"]]
            call = Term.make(node.op, tuple(tb.var(n, v.shape, v.dtype.name) for n, v in operands.items()),
                             node.attrs)
            exact.append(np.array_equal(env[f"vta{i}"], evaluate(Program({"y": call}), operands)["y"]))
        return exact

    def profile(self, inputs: Mapping[str, np.ndarray], repeat: int = 10, warmup: int = 1) -> Profile:
        """Measured time per kernel (`frittata.backends.profile.Profile`), in program order: the
        host parts' kernels (named `vta<i>.x/...`, `vta<i>.w/...`, `out/...`) and each
        accelerator call `vta<i>` (operand copies, simulation and read-back) with the
        simulator's counters; `repeat` profiled runs interleaved with as many plain ones."""
        given = dict(inputs)
        threads = max([p.module.threads for p in self._parts() if p.module is not None], default=1)
        return collect("vta", lambda: self.run(**given), lambda: self._profiled(given), repeat, warmup,
                       host_peak(threads))

    def layer_report(self) -> LayerReport:
        """Per layer of the last `run`: where it ran (VTA or host) and why, cycles, GEMM
        utilization and bytes moved; the end-to-end simulated latency at the configuration's
        clock and the host's share (`frittata.backends.vta.layers`)."""
        return layer_report(self)

    def _parts(self) -> list[HostRunner]:
        return [part for parts, _ in self.calls for part in parts] + [self.final]

    def _profiled(self, inputs: dict[str, np.ndarray]) -> Timed:
        """One run like `run`, timing every host kernel and accelerator call."""
        check_inputs(self.inputs, inputs, "vta module")
        env: dict[str, np.ndarray] = dict(inputs)
        rows: Timed = []
        dram = self.sim.machine.dram
        for i, (parts, lowered) in enumerate(self.calls):
            values = [None if part.constant else _timed_part(part, env, f"vta{i}.{role}/", rows)["v"]
                      for part, role in zip(parts[:2], "xw")]
            start = time.perf_counter()
            for value, buf in zip(values, lowered.inputs):
                if value is not None:
                    self._write(dram, buf, value)
            report = self.sim.execute(lowered.program.instructions)
            env[f"vta{i}"] = lowered.read(dram)
            rows.append((self._call_sample(i, report), time.perf_counter() - start,
                         VtaCounters(report.cycles, report.gemm_utilization, report.moved, self.cfg.clock_hz)))
        _timed_part(self.final, env, "out/", rows)
        return rows

    def _call_sample(self, index: int, report: Report) -> Sample:
        """Call `index` as a profile sample: its GEMM work (2 ops per MAC of every non-reset
        micro-op, padding included) and the bytes its instructions moved."""
        macs = report.gemm_uops * self.cfg.batch * self.cfg.block_in * self.cfg.block_out
        facts = self.call_facts[index]
        term = None if self.program is None or facts["term"] is None else self.program.terms()[facts["term"]]
        return Sample(f"vta{index}", facts["op"], 2.0 * macs, float(sum(report.moved.values())),
                      facts["model_s"], term)

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

    def save(self, path: str | Path) -> None:
        """Write the module to one checksummed file (`frittata.backends.vta.saved`)."""
        Path(path).write_bytes(self.to_bytes())

    def to_bytes(self) -> bytes:
        """The bytes `save` writes."""
        return encode_vta(self)

    @classmethod
    def load(cls, saved: fileformat.Saved, threads: int | None = None) -> VtaModule:
        """The module `save` wrote (`saved` is the decoded, checksum-verified file)."""
        image = read_vta(saved, threads)
        return cls(image.cfg, image.inputs, image.outputs, image.sim, image.calls, image.final,
                   image.report, image.call_facts)


def _timed_part(part: HostRunner, env: dict[str, np.ndarray], prefix: str, rows: Timed) -> dict[str, np.ndarray]:
    """`part.run(env)`, adding a row per kernel of a native part to `rows`."""
    module = part.module
    if module is None:
        return part.run(env)
    outputs, seconds = module.run_timed(**{n: env[n] for n in module.inputs})
    rows += [(k, float(s), None) for k, s in zip(samples(module.steps, None, prefix), seconds)]
    return outputs
