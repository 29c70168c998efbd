"""WebAssembly: an llvm module compiled for wasm32 written as a `.wasm` file, and run from Python
through wasmtime.

`export_wasm` links the module's units (object code for wasm32, SIMD128 where the target string
enables it) with `wasm-ld` into a module that imports nothing and exports its linear `memory`,
`frittata_run(slots, tid, nthreads, barrier)` and `__heap_base`. Beside it go `NAME.json` (the
signature, arena size, parameter offsets and index-check records) and `NAME.params` (the
parameters, each 64-byte aligned, as in the C library). A host (JavaScript, or `WasmModule` here)
grows the memory, copies the parameters above `__heap_base`, lays out the arena, inputs and
outputs, writes the slot table of 32-bit addresses and calls `frittata_run(slots, 0, 1, barrier)`:
one thread, since WebAssembly modules here have no threads (the program's barrier returns at once).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from frittata.backends import fileformat
from frittata.backends.export import ALIGN, params_blob, write_objects
from frittata.backends.jit import BARRIER_WORDS, machine_for_code
from frittata.backends.runtime import index_error
from frittata.errors import DeployError
from frittata.terms.dtypes import TensorType

LINKER = "wasm-ld"
PAGE = 65536


def export_wasm(saved: fileformat.Saved, path: str | Path) -> Path:
    """Write `path` (.wasm), `path`.json and `path`.params for the wasm32 module `saved`."""
    machine = machine_for_code(saved)
    if not machine.arch.startswith("wasm32"):
        raise DeployError(f"export_wasm: expected a module compiled for wasm32 (target \"llvm "
                          f"-mtriple=wasm32-unknown-unknown -mattr=+simd128\"), got one for {machine.triple}")
    if shutil.which(LINKER) is None:
        raise DeployError(f"export_wasm: expected the linker {LINKER!r} on PATH, found none (Debian's lld)")
    out = Path(path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="frittata-wasm-") as scratch:
        objects = write_objects(saved, machine, Path(scratch))
        command = [LINKER, "--no-entry", "--export=frittata_run", "--export=__heap_base", "-o", str(out),
                   *map(str, objects)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise DeployError(f"export_wasm: expected {LINKER} to link the module, it exited with "
                              f"{done.returncode}:\n{done.stderr.strip()[-2000:]}")
    blob, offsets = params_blob(saved)
    meta = saved.meta
    layout = {"inputs": meta["inputs"], "outputs": meta["outputs"], "arena_bytes": meta["arena_bytes"],
              "param_offsets": offsets, "checks": meta.get("checks", []), "align": ALIGN}
    Path(f"{out}.json").write_text(json.dumps(layout, indent=1))
    Path(f"{out}.params").write_bytes(blob)
    return out


class WasmModule:
    """A `.wasm` written by `export_wasm`, instantiated in wasmtime; `run(**inputs)` like a Module's
    (inputs checked by name, shape and dtype; out-of-range run-time indices raise
    RuntimeInputError)."""

    def __init__(self, path: str | Path) -> None:
        import wasmtime

        layout = json.loads(Path(f"{path}.json").read_text())
        self.inputs = {n: TensorType(tuple(s), d) for n, (s, d) in layout["inputs"].items()}
        self.outputs = {n: TensorType(tuple(s), d) for n, (s, d) in layout["outputs"].items()}
        self._checks = layout["checks"]
        self._store = wasmtime.Store(wasmtime.Engine())
        instance = wasmtime.Instance(self._store, wasmtime.Module.from_file(self._store.engine, str(path)), [])
        exports = instance.exports(self._store)
        memory, entry, heap_base = (exports.get(name) for name in ("memory", "frittata_run", "__heap_base"))
        if not (isinstance(memory, wasmtime.Memory) and isinstance(entry, wasmtime.Func)
                and isinstance(heap_base, wasmtime.Global)):
            raise DeployError(f"{path}: expected a module exporting memory, frittata_run and __heap_base "
                              "(written by export_wasm)")
        self._memory: wasmtime.Memory = memory
        self._entry: wasmtime.Func = entry
        self._top = _aligned(int(heap_base.value(self._store)))
        self._arena = self._allocate(max(layout["arena_bytes"], ALIGN))
        self._in = {n: self._allocate(_nbytes(t)) for n, t in self.inputs.items()}
        self._out = {n: self._allocate(_nbytes(t)) for n, t in self.outputs.items()}
        params = Path(f"{path}.params").read_bytes()
        base = self._allocate(len(params))
        self._memory.write(self._store, params, base)
        slots = [self._arena, *self._in.values(), *self._out.values(), *(base + o for o in layout["param_offsets"])]
        self._slots = self._allocate(4 * len(slots))
        self._memory.write(self._store, np.array(slots, np.uint32).tobytes(), self._slots)
        self._barrier = self._allocate(4 * BARRIER_WORDS)

    def _allocate(self, nbytes: int) -> int:
        at, self._top = self._top, _aligned(self._top + nbytes)
        missing = self._top - self._memory.data_len(self._store)
        if missing > 0:
            self._memory.grow(self._store, -(-missing // PAGE))
        return at

    def run(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        from frittata.terms.interp import check_inputs

        check_inputs(self.inputs, inputs, "wasm module")
        for name, t in self.inputs.items():
            self._memory.write(self._store, np.ascontiguousarray(inputs[name], t.dtype).tobytes(), self._in[name])
        self._entry(self._store, self._slots, 0, 1, self._barrier)
        for offset, op, what, shape in self._checks:
            error = index_error(self._read(self._arena + offset, TensorType((4,), "int64")), op, what, shape)
            if error is not None:
                raise error
        return {name: self._read(self._out[name], t) for name, t in self.outputs.items()}

    __call__ = run

    def _read(self, at: int, t: TensorType) -> np.ndarray:
        data = self._memory.read(self._store, at, at + _nbytes(t))
        return np.frombuffer(bytes(data), t.dtype).reshape(t.shape).copy()


def _nbytes(t: TensorType) -> int:
    return int(np.prod(t.shape, dtype=np.int64)) * np.dtype(t.dtype).itemsize


def _aligned(address: int) -> int:
    return -(-address // ALIGN) * ALIGN
