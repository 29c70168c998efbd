"""Saving and loading VTA modules: one checksummed `.ftm` file (`frittata.backends.fileformat`).

The file's metadata has "kind": "vta", the configuration, the signature, the report and, per
accelerator call, its operand and output DRAM buffers and its host parts; the arrays are the
device DRAM image (constant operands, micro-ops), each call's encoded instruction stream, the
values of constant host parts and the saved llvm modules of native ones.  Loading needs the
simulator, the instruction decoder and the llvm runtime only: never egglog, the rewrites or the
extractor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from frittata.backends import fileformat
from frittata.backends.runtime import Module
from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram, DramBuffer
from frittata.backends.vta.hw.encode import decode_stream, encode_stream
from frittata.backends.vta.hw.emitter import InstructionStream
from frittata.backends.vta.hw.simulator import Simulator
from frittata.backends.vta.planes import read_planes
from frittata.errors import ModuleFormatError
from frittata.terms.dtypes import TensorType

if TYPE_CHECKING:
    from frittata.backends.vta.module import VtaModule

SAVED_KIND = "vta"
"""The "kind" of a saved VTA module's metadata, which `frittata.load` dispatches on."""


class HostRunner(Protocol):
    """A host part of a VTA module as it runs: constant, or computed from the environment."""

    @property
    def constant(self) -> bool: ...

    @property
    def module(self) -> Module | None:
        """The native module computing a non-constant part (None for constants and renames)."""
        ...

    def run(self, env: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


class EmittedCall(Protocol):
    """An accelerator call as it runs: its stream, operand and output buffers, result dtype."""

    @property
    def program(self) -> InstructionStream: ...

    @property
    def inputs(self) -> tuple[DramBuffer, DramBuffer]: ...

    @property
    def out(self) -> DramBuffer: ...

    @property
    def dtype(self) -> str: ...

    def read(self, dram: Dram) -> np.ndarray: ...


def _buffer_meta(buf: DramBuffer) -> list:
    return [buf.addr, list(buf.shape), np.dtype(buf.dtype).name]


def _buffer(spec: list) -> DramBuffer:
    addr, shape, dtype = spec
    return DramBuffer(int(addr), tuple(shape), np.dtype(dtype))


def _signature(types: dict) -> dict:
    return {n: [list(t.shape), t.dtype] for n, t in types.items()}


def _types(spec: dict) -> dict[str, TensorType]:
    return {n: TensorType(tuple(s), d) for n, (s, d) in spec.items()}


def _part_meta(part, key: str, arrays: dict[str, np.ndarray]) -> dict:
    """Describe a host part, adding its arrays (values or llvm module bytes) under `key`."""
    if part.constant:
        for name, value in part.value.items():
            arrays[f"{key}.{name}"] = value
        return {"kind": "constant", "names": list(part.value)}
    if part.passthrough:
        return {"kind": "passthrough", "map": {n: t.attr("name") for n, t in part.program.outputs.items()}}
    arrays[key] = np.frombuffer(part.module.to_bytes(), np.uint8)
    return {"kind": "native"}


def encode_vta(module: VtaModule) -> bytes:
    """The bytes of `module`'s file (see the module docstring)."""
    dram = module.sim.machine.dram
    arrays: dict[str, np.ndarray] = {"dram": dram.data[:dram.top].copy()}
    calls = []
    for i, (parts, lowered) in enumerate(module.calls):
        image = encode_stream(lowered.program.instructions, module.cfg)
        arrays[f"insn{i}"] = np.frombuffer(image, np.uint8)
        calls.append({"parts": [_part_meta(p, f"call{i}.part{j}", arrays) for j, p in enumerate(parts)],
                      "inputs": [_buffer_meta(b) for b in lowered.inputs],
                      "out": _buffer_meta(lowered.out), "dtype": lowered.dtype, **module.call_facts[i]})
    meta = {"kind": SAVED_KIND, "config": asdict(module.cfg), "inputs": _signature(module.inputs),
            "outputs": _signature(module.outputs), "report": module.report, "calls": calls,
            "final": _part_meta(module.final, "final", arrays)}
    return fileformat.encode(fileformat.Saved(meta, {}, arrays))


@dataclass(frozen=True, slots=True)
class LoadedPart:
    """A host part read back: constant values, input renames, or a native llvm module."""

    constant: bool
    values: dict[str, np.ndarray] | None = None
    renames: dict[str, str] | None = None
    module: Module | None = None

    def run(self, env: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.values is not None:
            return self.values
        if self.renames is not None:
            return {n: env[src] for n, src in self.renames.items()}
        assert self.module is not None
        return self.module.run(**{n: env[n] for n in self.module.inputs})


@dataclass(frozen=True, slots=True)
class LoadedCall:
    """What `VtaModule.run` needs of an emitted call: its stream, operand and output buffers."""

    program: InstructionStream
    inputs: tuple[DramBuffer, DramBuffer]
    out: DramBuffer
    dtype: str

    def read(self, dram: Dram) -> np.ndarray:
        return read_planes(dram, self.out, self.dtype)


def _load_part(meta: dict, key: str, arrays: dict[str, np.ndarray], threads: int | None) -> LoadedPart:
    match meta["kind"]:
        case "constant":
            return LoadedPart(True, values={n: np.array(arrays[f"{key}.{n}"]) for n in meta["names"]})
        case "passthrough":
            return LoadedPart(False, renames=dict(meta["map"]))
        case "native":
            saved = fileformat.decode(arrays[key].tobytes(), key)
            return LoadedPart(False, module=Module(saved, threads))
        case kind:
            raise ModuleFormatError(f"vta module part {key}: expected kind constant, passthrough "
                                    f"or native, got {kind!r}")


@dataclass(frozen=True, slots=True)
class VtaImage:
    """A saved VTA module read back: what `VtaModule` is constructed from."""

    cfg: VtaConfig
    inputs: dict[str, TensorType]
    outputs: dict[str, TensorType]
    sim: Simulator
    calls: Sequence[tuple[Sequence[HostRunner], EmittedCall]]
    final: HostRunner
    report: dict
    call_facts: list[dict]


def read_vta(saved: fileformat.Saved, threads: int | None = None) -> VtaImage:
    """The parts of the module `encode_vta` encoded (already checksum-verified by `fileformat.decode`)."""
    meta, arrays = saved.meta, saved.params
    cfg = VtaConfig(**meta["config"])
    sim = Simulator(cfg, Dram.restore(arrays["dram"]))
    calls: list[tuple[Sequence[HostRunner], EmittedCall]] = []
    for i, call in enumerate(meta["calls"]):
        parts: list[HostRunner] = [_load_part(p, f"call{i}.part{j}", arrays, threads)
                                   for j, p in enumerate(call["parts"])]
        program = InstructionStream(cfg, decode_stream(arrays[f"insn{i}"].tobytes(), cfg), None)
        x, w = (_buffer(b) for b in call["inputs"])
        calls.append((parts, LoadedCall(program, (x, w), _buffer(call["out"]), call["dtype"])))
    final = _load_part(meta["final"], "final", arrays, threads)
    facts = [{"op": call.get("op", "vta_call"), "model_s": call.get("model_s"), "term": call.get("term")}
             for call in meta["calls"]]
    return VtaImage(cfg, _types(meta["inputs"]), _types(meta["outputs"]), sim, calls, final,
                    meta.get("report", {}), facts)
