"""The VTA hardware model: what the accelerator is and does, independent of any compiler.

Modules, left to right in the order data flows through them:
  config     VtaConfig: the primary knobs and every derived constant
  config_file  the vta_config.json form (and TVM's sample files, in configs/)
  isa        instruction and micro-op values (Load, Store, Gemm, Alu, Finish, Uop)
  encode     128-bit instruction / 32-bit micro-op encoder and decoder
  listing    readable disassembly
  kernel     micro-op kernels (uops in up to two loops)
  emitter    runtime-like stream builder: 2-D DMAs, kernels + uop cache, tokens, FINISH
  dram       device memory shared by host and simulator
  machine    SRAMs and the bit-exact semantics (with alu.py and gemm_core.py)
  simulator  the load / compute / store event loop with token queues
  timing     per-instruction cycle costs and the counters of a run
  resources  FPGA resources and clock ceiling of a design, the named parts (parts.json)
  errors     the hardware errors (all HardwareError)

Nothing here imports the compiler: these modules import only each other and frittata.errors.
"""

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.config_file import as_config, config_to_dict, load_config
from frittata.backends.vta.hw.dram import Dram, DramBuffer
from frittata.backends.vta.hw.emitter import Emitter, InstructionStream
from frittata.backends.vta.hw.errors import (
    AddressError, ConfigError, EmitError, EncodingError, HazardError, StreamError, TokenError)
from frittata.backends.vta.hw.isa import (
    Alu, AluOp, Deps, Finish, Gemm, Instruction, Load, MemType, Opcode, Queue, Stage, Store, Uop)
from frittata.backends.vta.hw.kernel import AluKernel, GemmKernel, UopLoop, rows_kernel
from frittata.backends.vta.hw.simulator import Simulator
from frittata.backends.vta.hw.timing import Report, TimingParams

__all__ = [
    "AddressError", "Alu", "AluKernel", "AluOp", "ConfigError", "Deps", "Dram", "DramBuffer",
    "EmitError", "Emitter", "EncodingError", "Finish", "Gemm", "GemmKernel", "HazardError",
    "Instruction", "InstructionStream", "Load", "MemType", "Opcode", "Queue", "Report", "Simulator",
    "Stage", "Store", "StreamError", "TimingParams", "TokenError", "Uop", "UopLoop", "VtaConfig",
    "as_config", "config_to_dict", "load_config", "rows_kernel",
]
