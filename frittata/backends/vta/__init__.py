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
  schedule, matmul   a hand-written double-buffered int8 matmul built on the emitter
  lower*    vta_dense / vta_conv2d terms -> streams (tiles, bias + ALU epilogue, 1 or 2 threads);
            the one conv2d on VTA
  tensorize the target's schedule, and the rule parameters of a configuration
  cost      the VTA cost model
  build     program -> module: accelerator calls simulated, host parts native
  module    the built module (VtaModule): runs calls and host parts in order
  saved     save / load of built modules (one checksummed file)
  target    the "vta" Target: schedule, cost model, rule parameters, build and loader

`tensorize` and `cost` depend on the rewrite and extraction stages, so they are imported on
first use of their names: loading a saved module needs neither.
"""

import importlib

from frittata.backends.vta.build import build
from frittata.backends.vta.config import VtaConfig
from frittata.backends.vta.dram import Dram, DramBuffer
from frittata.backends.vta.emitter import Emitter, Program
from frittata.backends.vta.errors import (
    AddressError, ConfigError, EmitError, EncodingError, HazardError, StreamError, TokenError)
from frittata.backends.vta.isa import (
    Alu, AluOp, Deps, Finish, Gemm, Instruction, Load, MemType, Opcode, Queue, Stage, Store, Uop)
from frittata.backends.vta.kernel import AluKernel, GemmKernel, UopLoop, rows_kernel
from frittata.backends.vta.module import VtaModule
from frittata.backends.vta.simulator import Simulator
from frittata.backends.vta.timing import Report, TimingParams

_LAZY = {"VtaCostModel": "cost", "VTA_SCHEDULE": "tensorize", "rule_parameters": "tensorize"}


def __getattr__(name: str):
    """The compile-time names, imported on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"frittata.backends.vta.{_LAZY[name]}"), name)

__all__ = [
    "AddressError", "Alu", "AluKernel", "AluOp", "ConfigError", "Deps", "Dram", "DramBuffer",
    "EmitError", "Emitter", "EncodingError", "Finish", "Gemm", "GemmKernel", "HazardError",
    "Instruction", "Load", "MemType", "Opcode", "Program", "Queue", "Report", "Simulator",
    "Stage", "Store", "StreamError", "TimingParams", "TokenError", "Uop", "UopLoop",
    "VTA_SCHEDULE", "VtaConfig", "VtaCostModel", "VtaModule", "build", "rows_kernel",
    "rule_parameters",
]
