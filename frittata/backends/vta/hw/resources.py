"""What a VTA design costs on an FPGA, and whether it fits a part: DSP slices, LUTs, flip-flops,
18 Kb block RAMs, AXI bits, and the clock its critical path allows.

The model is an estimate for design-space exploration, not a synthesis report; every constant
below says where it comes from, and those marked *estimate* are ours (orders of magnitude,
calibrated where a published point exists).  Invariant: every resource is monotone
non-decreasing in every knob (GEMM shape, buffer sizes, bus width, pipeline stages), and the
clock ceiling falls as the array grows and rises with pipelining.

- **MAC array.**  BATCH x BLOCK_IN x BLOCK_OUT int8 multipliers.  A 7-series DSP48E1 (25x18
  multiplier) computes one int8 product; an UltraScale+ DSP48E2 (27x18) packs two sharing an
  operand (Xilinx WP486, "Deep Learning with INT8 Optimization on Xilinx Devices").  As HLS
  does when DSPs run out, multipliers beyond the part's DSPs are built from LUTs.
- **Block RAM.**  Each buffer (micro-op, input, weight, accumulator, output) is an array of
  `depth` words of `width` bits; an 18 Kb block RAM holds 16 Kb of data as 512 x 32, 1K x 16,
  2K x 8, 4K x 4, 8K x 2 or 16K x 1 (Xilinx UG473 / UG573; the parity bits of the x9, x18 and x36
  aspects are left unused, which keeps the count monotone in the GEMM shape), and a buffer takes
  the cheapest tiling by one aspect.
- **Clock ceiling.**  The GEMM critical path is a register, routing that grows with log2 of the
  array (operand fan-out), and the multiply plus log2(BLOCK_IN) adder levels divided among the
  pipeline stages; capped by the family's block-RAM / DSP clock.  The delays are *estimates*
  calibrated so the default 1x16x16 single-stage design's ceiling is the clock TVM builds it
  at: ~105 MHz on the Pynq's 7-series (built at 100 MHz), 333 MHz on UltraScale+ (Ultra96 and
  ZCU104, built at 333 MHz).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from frittata.backends.vta.hw.config import UOP_WIDTH, VtaConfig
from frittata.backends.vta.hw.errors import ConfigError, ResourceError


@dataclass(frozen=True, slots=True)
class Family:
    """Per-family constants: int8 products per DSP slice, critical-path delays (ns, estimates)
    and the clock cap (MHz: the block-RAM / DSP maximum of the slowest speed grade, rounded
    down; DS187 for 7-series -1, DS925 for UltraScale+ -1, both estimates of what an HLS design
    reaches)."""

    macs_per_dsp: int
    t_reg_ns: float
    t_route_ns: float
    t_mul_ns: float
    t_add_ns: float
    f_cap_mhz: float


FAMILIES = {
    "7series": Family(macs_per_dsp=1, t_reg_ns=1.5, t_route_ns=0.35, t_mul_ns=3.0, t_add_ns=0.9, f_cap_mhz=250.0),
    "ultrascale+": Family(macs_per_dsp=2, t_reg_ns=0.5, t_route_ns=0.12, t_mul_ns=0.9, t_add_ns=0.28, f_cap_mhz=450.0),
}

LUT_BASE = 9000
"""Fetch, load, store and control modules, instruction queues, AXI plumbing (estimate)."""
LUT_PER_FABRIC_MUL = 70
"""An 8x8 signed multiplier in LUTs (estimate, of the order Xilinx PG108 reports)."""
LUT_PER_MAC_ADD = 12
"""Adder-tree LUTs per product (a ~16-bit carry-chain adder per pair, estimate)."""
LUT_PER_ALU_LANE = 200
"""One int32 lane of the ALU (add, min, max, shift, operand mux; estimate)."""
LUT_PER_BUS_BIT = 10
"""DMA data path and width converters per AXI data bit (estimate)."""
FF_BASE = 12000
"""Registers of the modules and queues (estimate)."""
FF_PER_STAGE_MAC = 20
"""Pipeline registers per product per GEMM stage (a 16-bit product and partial sum; estimate)."""
FF_PER_BUS_BIT = 8
BRAM18_BASE = 8
"""Instruction and command FIFOs (estimate)."""
BRAM18_ASPECTS = ((32, 512), (16, 1024), (8, 2048), (4, 4096), (2, 8192), (1, 16384))
"""(data width bits, depth) shapes of one 18 Kb block RAM, parity bits unused (UG473 / UG573)."""


@dataclass(frozen=True, slots=True)
class Part:
    """An FPGA part's budget (`parts.json`) and the shipped configuration of its board."""

    name: str
    chip: str
    board_config: str
    family: str
    lut: int
    ff: int
    bram18: int
    dsp: int
    axi_ports: int
    axi_port_bits: int
    source: str

    @property
    def axi_bits(self) -> int:
        return self.axi_ports * self.axi_port_bits


@dataclass(frozen=True, slots=True)
class Usage:
    """A design's resources on a part and its clock ceiling (MHz)."""

    dsp: int
    lut: int
    ff: int
    bram18: int
    axi_bits: int
    fabric_multipliers: int
    clock_ceiling_mhz: float

    def utilization(self, part: Part) -> dict[str, float]:
        """Fraction of each of the part's resources used."""
        return {"dsp": self.dsp / part.dsp, "lut": self.lut / part.lut, "ff": self.ff / part.ff,
                "bram18": self.bram18 / part.bram18, "axi_bits": self.axi_bits / part.axi_bits}


@cache
def parts() -> dict[str, Part]:
    """The named parts, by board name (pynq-z1, ultra96, zcu104)."""
    data = json.loads((Path(__file__).parent / "parts.json").read_text())
    return {name: Part(name, **fields) for name, fields in data.items()}


def get_part(name: str) -> Part:
    """The part of a board name or chip name, or ConfigError naming the known ones."""
    for part in parts().values():
        if name in (part.name, part.chip):
            return part
    known = sorted({*parts(), *(p.chip for p in parts().values())})
    raise ConfigError(f"FPGA part: expected one of {known}, got {name!r}")


def bram18_blocks(width: int, depth: int) -> int:
    """18 Kb block RAMs holding `depth` words of `width` bits, by the cheapest aspect."""
    return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in BRAM18_ASPECTS)


def buffer_blocks(cfg: VtaConfig) -> dict[str, int]:
    """18 Kb block RAMs of each on-chip buffer."""
    return {"uop": bram18_blocks(UOP_WIDTH, cfg.uop_depth),
            "inp": bram18_blocks(cfg.inp_elem_bytes * 8, cfg.inp_depth),
            "wgt": bram18_blocks(cfg.wgt_elem_bytes * 8, cfg.wgt_depth),
            "acc": bram18_blocks(cfg.acc_elem_bytes * 8, cfg.acc_depth),
            "out": bram18_blocks(cfg.out_elem_bytes * 8, cfg.out_depth)}


def clock_ceiling_mhz(cfg: VtaConfig, family: Family) -> float:
    """The highest clock the GEMM datapath closes at (see the module docstring)."""
    fanout = math.log2(max(cfg.macs_per_cycle / 16, 1))
    logic = family.t_mul_ns + family.t_add_ns * math.log2(cfg.block_in)
    delay = family.t_reg_ns + family.t_route_ns * fanout + logic / cfg.gemm_stages
    return min(1e3 / delay, family.f_cap_mhz)


def estimate(cfg: VtaConfig, part: Part) -> Usage:
    """`cfg`'s resources on `part` (its family sets DSP packing and delays)."""
    family = FAMILIES[part.family]
    macs, lanes, bus = cfg.macs_per_cycle, cfg.batch * cfg.block_out, 8 * cfg.bus_bytes
    dsp = min(math.ceil(macs / family.macs_per_dsp), part.dsp)
    fabric = max(macs - dsp * family.macs_per_dsp, 0)
    lut = (LUT_BASE + LUT_PER_FABRIC_MUL * fabric + LUT_PER_MAC_ADD * macs + LUT_PER_ALU_LANE * lanes
           + LUT_PER_BUS_BIT * bus)
    ff = FF_BASE + FF_PER_STAGE_MAC * macs * cfg.gemm_stages + FF_PER_BUS_BIT * bus
    bram = BRAM18_BASE + sum(buffer_blocks(cfg).values())
    return Usage(dsp, lut, ff, bram, bus, fabric, clock_ceiling_mhz(cfg, family))


def overflows(cfg: VtaConfig, part: Part) -> list[str]:
    """Every way `cfg` does not fit `part` (resource, need, budget); empty when it fits."""
    use = estimate(cfg, part)
    found = [f"{what}: needs {need:,}, {part.name} ({part.chip}) has {have:,}"
             for what, need, have in (("LUT", use.lut, part.lut), ("FF", use.ff, part.ff),
                                      ("BRAM18", use.bram18, part.bram18), ("AXI bits", use.axi_bits, part.axi_bits))
             if need > have]
    if cfg.clock_mhz > use.clock_ceiling_mhz:
        found.append(f"clock: {cfg.clock_mhz:g} MHz asked, the {cfg.gemm_stages}-stage GEMM of "
                     f"{cfg.batch}x{cfg.block_in}x{cfg.block_out} closes at {use.clock_ceiling_mhz:.0f} MHz "
                     f"on {part.family}; add GEMM stages or lower the clock")
    return found


def check_fits(cfg: VtaConfig, part: Part) -> Usage:
    """`cfg`'s usage on `part`, or ResourceError naming each overflowing resource."""
    problems = overflows(cfg, part)
    if problems:
        raise ResourceError(f"{cfg.design} does not fit {part.name}: " + "; ".join(problems))
    return estimate(cfg, part)
