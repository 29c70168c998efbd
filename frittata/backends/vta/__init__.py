"""The VTA hardware model: configuration, bit-exact ISA, emitter, simulator and cycle model.

Modules, left to right in the order data flows through them:
  config    VtaConfig: the primary knobs and every derived constant
  isa       instruction and micro-op values (Load, Store, Gemm, Alu, Finish, Uop)
  encode    128-bit instruction / 32-bit micro-op encoder and decoder
  listing   readable disassembly
  kernel    micro-op kernels (uops in up to two loops)
  emitter   runtime-like stream builder: 2-D DMAs, kernels + uop cache, tokens, FINISH
  dram      device memory shared by host and simulator
  machine   SRAMs and the bit-exact semantics (with alu.py and gemm.py)
  simulator the load / compute / store event loop with token queues
  timing    per-instruction cycle costs and the counters of a run
  schedule, matmul, conv2d   hand-written double-buffered kernels built on the emitter
"""

from frittata.backends.vta.config import VtaConfig
from frittata.backends.vta.dram import Dram, DramBuffer
from frittata.backends.vta.emitter import Emitter, Program
from frittata.backends.vta.errors import (
    AddressError, ConfigError, EmitError, EncodingError, HazardError, StreamError, TokenError)
from frittata.backends.vta.isa import (
    Alu, AluOp, Deps, Finish, Gemm, Instruction, Load, MemType, Opcode, Queue, Stage, Store, Uop)
from frittata.backends.vta.kernel import AluKernel, GemmKernel, UopLoop, rows_kernel
from frittata.backends.vta.simulator import Simulator
from frittata.backends.vta.timing import Report, TimingParams

__all__ = [
    "AddressError", "Alu", "AluKernel", "AluOp", "ConfigError", "Deps", "Dram", "DramBuffer",
    "EmitError", "Emitter", "EncodingError", "Finish", "Gemm", "GemmKernel", "HazardError",
    "Instruction", "Load", "MemType", "Opcode", "Program", "Queue", "Report", "Simulator",
    "Stage", "Store", "StreamError", "TimingParams", "TokenError", "Uop", "UopLoop",
    "VtaConfig", "rows_kernel",
]
