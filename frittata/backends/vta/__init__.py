"""The VTA compiler target: int8 GEMM kernels tensorized onto the accelerator, lowered to
instruction streams, built into modules that run them on the simulated hardware (`hw`).

  hw         the hardware model (config, ISA, encoder, emitter, simulator, timing), re-exported here
  tensorize  the target's schedule, and the rule parameters of a configuration
  cost       the VTA cost model: accelerator calls by the cycle model, host ops by a CPU model
  lower*     vta_dense / vta_conv2d terms -> streams (tiles, bias + ALU epilogue, 1 or 2 threads)
  planes     the byte-plane layout of a call's output
  build      program -> module: accelerator calls simulated, host parts native
  module     the built module (VtaModule): runs calls and host parts in order
  saved      save / load of built modules (one checksummed file)
  target     the "vta" Target: schedule, cost model, rule parameters, build and loader
  matmul, matmul_pipeline   a hand-written double-buffered int8 matmul built on the emitter

`tensorize` and `cost` depend on the rewrite and extraction stages, so they are imported on
first use of their names: loading a saved module needs neither.
"""

import importlib

from frittata.backends.vta.build import build
from frittata.backends.vta.hw import (
    AddressError, Alu, AluKernel, AluOp, ConfigError, Deps, Dram, DramBuffer, EmitError, Emitter,
    EncodingError, Finish, Gemm, GemmKernel, HazardError, Instruction, InstructionStream, Load,
    MemType, Opcode, Queue, Report, Simulator, Stage, Store, StreamError, TimingParams, TokenError,
    Uop, UopLoop, VtaConfig, as_config, config_to_dict, load_config, rows_kernel)
from frittata.backends.vta.module import VtaModule

_LAZY = {"VtaCostModel": "cost", "VTA_SCHEDULE": "tensorize", "rule_parameters": "tensorize"}


def __getattr__(name: str):
    """The compile-time names, imported on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"frittata.backends.vta.{_LAZY[name]}"), name)


__all__ = [
    "AddressError", "Alu", "AluKernel", "AluOp", "ConfigError", "Deps", "Dram", "DramBuffer",
    "EmitError", "Emitter", "EncodingError", "Finish", "Gemm", "GemmKernel", "HazardError",
    "Instruction", "InstructionStream", "Load", "MemType", "Opcode", "Queue", "Report", "Simulator",
    "Stage", "Store", "StreamError", "TimingParams", "TokenError", "Uop", "UopLoop",
    "VTA_SCHEDULE", "VtaConfig", "VtaCostModel", "VtaModule", "as_config", "build", "config_to_dict",
    "load_config", "rows_kernel", "rule_parameters",
]
