"""The VTA hardware configuration: the ten primary knobs and every constant derived from them.

The primary parameters are the keys of TVM's `vta_config.json` (all base-2 logarithms); every
other number (element sizes, buffer depths, instruction field widths) is a property computed from
them, so a configuration is exactly as valid as its primaries.  Three circuit knobs complete a
design: the clock, the AXI data width of the DMA engines, and the pipeline stages of the GEMM
datapath (which the resource model's clock ceiling and the cycle model's GEMM latency read).
`VtaConfig()` is the default `1x16_i8w8a32_15_15_18_17` accelerator at 100 MHz on a 64-bit bus,
as on the Pynq-Z1.  `config_file` reads and writes the `vta_config.json` form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

from frittata.backends.vta.hw.errors import ConfigError
from frittata.backends.vta.hw.isa import MemType

UOP_WIDTH = 32
"""Bits per micro-op (fixed by the ISA)."""
INSN_WIDTH = 128
"""Bits per instruction (fixed by the ISA)."""
LOOP_ITER_WIDTH = 14
"""Bits of the iter_out / iter_in fields (fixed by the ISA)."""
SRAM_ADDR_WIDTH = 16
"""Bits of the sram_base field of LOAD / STORE (fixed by the ISA)."""


@dataclass(frozen=True, slots=True)
class VtaConfig:
    """A VTA design point.  Fields are log2 of: element widths in bits, the GEMM shape, and
    buffer sizes in bytes.  Construction validates and raises `ConfigError` with the reason."""

    log_inp_width: int = 3
    log_wgt_width: int = 3
    log_acc_width: int = 5
    log_batch: int = 0
    log_block: int = 4
    log_uop_buff_size: int = 15
    log_inp_buff_size: int = 15
    log_wgt_buff_size: int = 18
    log_acc_buff_size: int = 17
    clock_mhz: float = 100.0
    log_bus_width: int = 6
    gemm_stages: int = 1

    def __post_init__(self) -> None:
        values = {f: getattr(self, f) for f in (*LOG_FIELDS, "log_bus_width")}
        bad = {f: v for f, v in values.items()
               if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 32}
        if bad:
            raise ConfigError(f"invalid VTA configuration: expected log2 parameters as ints "
                              f"in [0, 32], got {bad}")
        circuit = _circuit_reason(self)
        if circuit:
            raise ConfigError(f"invalid VTA configuration: {circuit}")
        reasons = _violations(self)
        if reasons:
            raise ConfigError(f"invalid VTA configuration {self.name}: " + "; ".join(reasons))

    # ---- shapes and element widths ------------------------------------------------------------
    @property
    def batch(self) -> int:
        return 1 << self.log_batch

    @property
    def block_in(self) -> int:
        return 1 << self.log_block

    @property
    def block_out(self) -> int:
        return 1 << self.log_block

    @property
    def inp_width(self) -> int:
        return 1 << self.log_inp_width

    @property
    def wgt_width(self) -> int:
        return 1 << self.log_wgt_width

    @property
    def acc_width(self) -> int:
        return 1 << self.log_acc_width

    @property
    def out_width(self) -> int:
        """Outputs have the input width (int8 by default)."""
        return self.inp_width

    # ---- element sizes in bytes (one SRAM index) ----------------------------------------------
    @property
    def inp_elem_bytes(self) -> int:
        """One BATCH x BLOCK_IN input vector."""
        return self.inp_width * self.batch * self.block_in // 8

    @property
    def wgt_elem_bytes(self) -> int:
        """One BLOCK_OUT x BLOCK_IN weight tile."""
        return self.wgt_width * self.block_out * self.block_in // 8

    @property
    def acc_elem_bytes(self) -> int:
        """One BATCH x BLOCK_OUT accumulator vector."""
        return self.acc_width * self.batch * self.block_out // 8

    @property
    def out_elem_bytes(self) -> int:
        """One BATCH x BLOCK_OUT output vector."""
        return self.out_width * self.batch * self.block_out // 8

    @property
    def uop_elem_bytes(self) -> int:
        return UOP_WIDTH // 8

    def elem_bytes(self, mem: MemType) -> int:
        """DRAM bytes of one element of `mem`: the unit of dram_base and x_stride."""
        match mem:
            case MemType.UOP:
                return self.uop_elem_bytes
            case MemType.WGT:
                return self.wgt_elem_bytes
            case MemType.INP:
                return self.inp_elem_bytes
            case MemType.ACC:
                return self.acc_elem_bytes
            case MemType.OUT:
                return self.out_elem_bytes
            case MemType.ACC_8BIT:
                return self.acc_elem_bytes // 4
            case _:
                assert_never(mem)

    # ---- buffer depths (elements) and their logs ----------------------------------------------
    @property
    def log_uop_depth(self) -> int:
        return self.log_uop_buff_size - 2

    @property
    def log_inp_depth(self) -> int:
        return self.log_inp_buff_size - _log2(self.inp_elem_bytes)

    @property
    def log_wgt_depth(self) -> int:
        return self.log_wgt_buff_size - _log2(self.wgt_elem_bytes)

    @property
    def log_acc_depth(self) -> int:
        return self.log_acc_buff_size - _log2(self.acc_elem_bytes)

    @property
    def log_out_buff_size(self) -> int:
        """The output buffer has as many elements as the accumulator."""
        return self.log_acc_buff_size + self.log_inp_width - self.log_acc_width

    @property
    def uop_depth(self) -> int:
        return 1 << self.log_uop_depth

    @property
    def inp_depth(self) -> int:
        return 1 << self.log_inp_depth

    @property
    def wgt_depth(self) -> int:
        return 1 << self.log_wgt_depth

    @property
    def acc_depth(self) -> int:
        return 1 << self.log_acc_depth

    @property
    def out_depth(self) -> int:
        return self.acc_depth

    # ---- micro-op field widths ----------------------------------------------------------------
    @property
    def uop_dst_width(self) -> int:
        return self.log_acc_depth

    @property
    def uop_src_width(self) -> int:
        """The src index names an INP row (GEMM) or an ACC row (ALU)."""
        return max(self.log_acc_depth, self.log_inp_depth)

    @property
    def uop_wgt_width(self) -> int:
        return self.log_wgt_depth

    @property
    def macs_per_cycle(self) -> int:
        """Peak multiply-accumulates of one GEMM micro-op."""
        return self.batch * self.block_in * self.block_out

    @property
    def hazard_window(self) -> int:
        """Uop executions after a GEMM's accumulate into an ACC row during which another one
        into that row would read it before the first has written it back: 2 for the one-stage
        datapath (VTA's runtime rejects a row written within the previous two uops), one more
        per further datapath stage between the accumulator's read and its write (our model)."""
        return self.gemm_stages + 1

    @property
    def clock_hz(self) -> float:
        return self.clock_mhz * 1e6

    @property
    def bus_bytes(self) -> int:
        """Bytes the DMA engines move per cycle (the AXI data width)."""
        return (1 << self.log_bus_width) // 8

    @property
    def peak_gops(self) -> float:
        """2 ops per MAC of the GEMM array per cycle, at the clock."""
        return 2 * self.macs_per_cycle * self.clock_mhz / 1e3

    @property
    def design(self) -> str:
        """The bitstream name with the circuit knobs, e.g. `1x16_i8w8a32_15_15_18_17@100MHz_axi64_p1`:
        unique per design point."""
        return f"{self.name}@{self.clock_mhz:g}MHz_axi{8 * self.bus_bytes}_p{self.gemm_stages}"

    @property
    def name(self) -> str:
        """The bitstream name, e.g. `1x16_i8w8a32_15_15_18_17`."""
        return (
            f"{self.batch}x{self.block_in}_i{self.inp_width}w{self.wgt_width}a{self.acc_width}"
            f"_{self.log_uop_buff_size}_{self.log_inp_buff_size}"
            f"_{self.log_wgt_buff_size}_{self.log_acc_buff_size}"
        )


LOG_FIELDS = ("log_inp_width", "log_wgt_width", "log_acc_width", "log_batch", "log_block",
              "log_uop_buff_size", "log_inp_buff_size", "log_wgt_buff_size", "log_acc_buff_size")
"""The primary parameters, log2 each (TVM's `vta_config.json` keys, lower-cased)."""
MAX_CLOCK_MHZ = 1000.0
MAX_GEMM_STAGES = 8
MAX_HAZARD_WINDOW = MAX_GEMM_STAGES + 1
"""The widest `hazard_window` of any valid configuration: lowering keeps writes of one ACC row
further apart than this, so a stream does not depend on the pipeline depth."""


def _circuit_reason(cfg: VtaConfig) -> str:
    """Why the clock, bus width or pipeline depth is out of range; empty when they are fine."""
    clock = cfg.clock_mhz
    if isinstance(clock, bool) or not isinstance(clock, (int, float)) or not 0 < clock <= MAX_CLOCK_MHZ:
        return f"clock_mhz: expected a number in (0, {MAX_CLOCK_MHZ:g}], got {clock!r}"
    if not 5 <= cfg.log_bus_width <= 10:
        return (f"log_bus_width: expected 5..10 (a 32- to 1024-bit AXI bus), "
                f"got {cfg.log_bus_width!r}")
    stages = cfg.gemm_stages
    if isinstance(stages, bool) or not isinstance(stages, int) or not 1 <= stages <= MAX_GEMM_STAGES:
        return f"gemm_stages: expected an int in [1, {MAX_GEMM_STAGES}], got {stages!r}"
    return ""


def _log2(n: int) -> int:
    return n.bit_length() - 1


def _violations(cfg: VtaConfig) -> list[str]:
    """Every reason `cfg` is not a buildable design, in order; empty when it is valid."""
    widths = (cfg.log_inp_width, cfg.log_wgt_width, cfg.log_acc_width)
    if widths != (3, 3, 5):
        return [f"expected int8 inputs/weights and int32 accumulators (log widths 3, 3, 5), got "
                f"{widths}; the simulator models only these element types"]
    if not 0 <= cfg.log_batch <= 4 or not 1 <= cfg.log_block <= 7:
        return [f"expected 0 <= log_batch <= 4 and 1 <= log_block <= 7, "
                f"got log_batch={cfg.log_batch}, log_block={cfg.log_block}"]
    reasons = [_depth_reason(cfg, name) for name in ("uop", "inp", "wgt", "acc")]
    reasons = [r for r in reasons if r]
    if reasons:
        return reasons
    uop_bits = cfg.uop_dst_width + cfg.uop_src_width + cfg.uop_wgt_width
    if uop_bits > UOP_WIDTH:
        reasons.append(f"micro-op fields need {uop_bits} bits (dst {cfg.uop_dst_width}, "
                       f"src {cfg.uop_src_width}, wgt {cfg.uop_wgt_width}), expected <= 32; "
                       f"shrink the accumulator, input or weight buffer")
    reasons.extend(_word_reasons(cfg))
    return reasons


def _word_reasons(cfg: VtaConfig) -> list[str]:
    """GEMM / ALU fields are packed in two 64-bit words and no field may straddle them."""
    head = 8 + cfg.log_uop_depth + (cfg.log_uop_depth + 1) + 2 * LOOP_ITER_WIDTH
    gemm = 2 * (cfg.log_acc_depth + cfg.log_inp_depth + cfg.log_wgt_depth)
    alu = 4 * cfg.log_acc_depth + 3 + 1 + 16
    words = {"GEMM/ALU word 0 (uop range, loops)": head, "GEMM word 1 (factors)": gemm,
             "ALU word 1 (factors, opcode, immediate)": alu}
    return [f"{what} needs {bits} bits, expected <= 64; shrink the buffers"
            for what, bits in words.items() if bits > 64]


def _depth_reason(cfg: VtaConfig, name: str) -> str:
    log_depth = getattr(cfg, f"log_{name}_depth")
    if log_depth < 1:
        return (f"{name} buffer of 2^{getattr(cfg, f'log_{name}_buff_size')} bytes holds "
                f"fewer than 2 elements; expected a larger buffer")
    if log_depth > SRAM_ADDR_WIDTH:
        return (f"{name} buffer depth 2^{log_depth} exceeds the 16-bit sram_base field; "
                f"expected at most 2^{SRAM_ADDR_WIDTH} elements")
    return ""
