"""Shared helpers for the VTA tests: a fresh device and small stream builders."""

from __future__ import annotations

import numpy as np

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.hw.emitter import Emitter
from frittata.backends.vta.hw.isa import MemType, Stage
from frittata.backends.vta.hw.kernel import AluKernel
from frittata.backends.vta.hw.simulator import Simulator
from frittata.backends.vta.hw.timing import Report


class Device:
    """One simulated VTA with its DRAM and an emitter."""

    def __init__(self, cfg: VtaConfig = VtaConfig()) -> None:
        self.cfg, self.dram = cfg, Dram()
        self.sim = Simulator(cfg, self.dram)
        self.em = Emitter(cfg, self.dram)

    def run(self) -> Report:
        return self.sim.run(self.em.synchronize().image())


def acc_roundtrip(dev: Device, rows: np.ndarray, kernels: list[AluKernel]) -> np.ndarray:
    """LOAD ACC `rows` (n, BATCH, BLOCK_OUT) int32, run ALU `kernels`, STORE, return int8."""
    em, n = dev.em, rows.shape[0]
    src = dev.dram.put(rows.astype(np.int32))
    out = dev.dram.alloc(rows.shape, np.int8)
    em.load_2d(MemType.ACC, 0, src, 0, 1, n, n)
    for kernel in kernels:
        em.alu(kernel)
    em.dep_push(Stage.COMPUTE, Stage.STORE)
    em.dep_pop(Stage.COMPUTE, Stage.STORE)
    em.store_2d(0, out, 0, 1, n, n)
    dev.run()
    return dev.dram.get(out)
