"""`export_library`: a compiled llvm module as a shared library with a C API, for the machine it
was compiled for (the host, or a cross target such as AArch64).

The library holds the module's kernels and entry point (object code emitted again from the
saved optimized IR, position-independent), its parameters (embedded with the assembler's
`.incbin`, each 64-byte aligned), generated tables (signature, parameter offsets, arena size,
the status records of run-time index checks)
and the runtime `c/frittata_model.c`, which implements the API of `c/frittata_model.h`:
create, set input by name, run, get output, free, errors as codes plus a message. Only the
`frittata_model_*` functions are exported. The system's C compiler for the target links it:
`cc` for the host, `<arch>-linux-gnu-gcc` for another Linux triple (Debian's cross toolchains),
or the `cc` argument.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
from llvmlite import binding as llvm

from frittata.backends import fileformat
from frittata.backends.jit import Machine, host, machine_for_code, units_of
from frittata.errors import DeployError

HEADER = "frittata_model.h"
RUNTIME = "frittata_model.c"
ALIGN = 64
EXPORTS = "{ global: frittata_model_*; local: *; };\n"
C_FLAGS = ("-shared", "-fPIC", "-O2", "-std=c11", "-D_POSIX_C_SOURCE=200809L")


def default_compiler(triple: str) -> str:
    """The C compiler that links for `triple`: `cc` for the host's, else Debian's cross compiler
    for the triple's architecture (aarch64-linux-gnu-gcc, ...)."""
    if triple == host().triple:
        return "cc"
    return f"{triple.split('-', 1)[0]}-linux-gnu-gcc"


def export_library(saved: fileformat.Saved, path: str | Path, cc: str | None = None) -> Path:
    """Write the shared library of the llvm module `saved` to `path`, and the C header
    `frittata_model.h` (the same for every model) beside it. Returns the library's path."""
    machine = machine_for_code(saved)
    if machine.arch.startswith("wasm"):
        raise DeployError(f"export_library: expected a module for a machine with a C toolchain, got "
                          f"{machine.triple}; write a WebAssembly module with export_wasm")
    compiler = cc or default_compiler(machine.triple)
    if shutil.which(compiler) is None:
        raise DeployError(f"export_library: expected the C compiler {compiler!r} for {machine.triple} on PATH, "
                          "found none (install it, e.g. Debian's gcc-aarch64-linux-gnu, or pass cc=)")
    out = Path(path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="frittata-export-") as scratch:
        work = Path(scratch)
        objects = write_objects(saved, machine, work)
        blob, offsets = params_blob(saved)
        (work / "params.bin").write_bytes(blob)
        (work / "tables.c").write_text(tables_source(saved, offsets, work / "params.bin"))
        (work / "exports.map").write_text(EXPORTS)
        (work / HEADER).write_text(header_text())
        (work / RUNTIME).write_text(resources.files("frittata.backends").joinpath("c", RUNTIME).read_text())
        command = [compiler, *C_FLAGS, f"-I{work}", "-o", str(out), str(work / RUNTIME), str(work / "tables.c"),
                   *map(str, objects), f"-Wl,--version-script={work / 'exports.map'}", "-lpthread", "-lm"]
        _run(command, "export_library")
    (out.parent / HEADER).write_text(header_text())
    return out


def header_text() -> str:
    """`frittata_model.h`: the C API every exported library implements."""
    return resources.files("frittata.backends").joinpath("c", HEADER).read_text()


def write_objects(saved: fileformat.Saved, machine: Machine, directory: Path) -> list[Path]:
    """Object code of every unit, position-independent, from the saved optimized IR."""
    target = machine.machine(shared=True)
    paths = []
    for unit in units_of(saved):
        module = llvm.parse_assembly(unit.ir)
        module.triple = machine.triple
        path = directory / f"{unit.name}.o"
        path.write_bytes(target.emit_object(module))
        paths.append(path)
    return paths


def params_blob(saved: fileformat.Saved) -> tuple[bytes, list[int]]:
    """The parameters in slot order, each at a multiple of ALIGN bytes, and their offsets."""
    blob, offsets = bytearray(), []
    for array in saved.params.values():
        blob.extend(b"\0" * (-len(blob) % ALIGN))
        offsets.append(len(blob))
        blob.extend(np.ascontiguousarray(array).tobytes())
    return bytes(blob), offsets


def tables_source(saved: fileformat.Saved, offsets: list[int], params_path: Path) -> str:
    """C source of the tables `frittata_model.c` reads: signature, parameter `offsets` in the
    blob, arena size, and the parameters themselves, included from `params_path` by the assembler."""
    meta = saved.meta
    lines = ['#include <stdint.h>', '#include "frittata_model.h"', ""]
    for kind in ("inputs", "outputs"):
        entries = []
        for i, (name, (shape, dtype)) in enumerate(meta[kind].items()):
            sizes = ", ".join(str(int(s)) for s in shape) or "0"
            lines.append(f"static const int64_t {kind}_shape_{i}[] = {{{sizes}}};")
            nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            entries.append(f'    {{"{_c_string(name)}", "{dtype}", {len(shape)}, {kind}_shape_{i}, {nbytes}u}},')
        lines += [f"const frittata_tensor_info frittata_{kind}_[] = {{", *(entries or ["    {0}"]), "};",
                  f"const int frittata_num_{kind}_ = {len(entries)};", ""]
    checks = [f'    {{{int(offset)}u, "{_c_string(op)}", "{_c_string(what)}"}},'
              for offset, op, what, _ in meta.get("checks", [])]
    lines += ["typedef struct index_check { uint64_t offset; const char *op; const char *what; } index_check;",
              "const index_check frittata_checks_[] = {", *(checks or ["    {0}"]), "};",
              f"const int frittata_num_checks_ = {len(checks)};", ""]
    lines += [f"const uint64_t frittata_param_offsets_[] = {{{', '.join(map(str, offsets)) or '0'}}};",
              f"const int frittata_num_params_ = {len(offsets)};",
              f"const uint64_t frittata_arena_bytes_ = {int(meta['arena_bytes'])}u;", "",
              '__asm__(".section .rodata\\n.balign 64\\n.globl frittata_params_\\n.hidden frittata_params_\\n"',
              f'        "frittata_params_:\\n.incbin \\"{_c_string(str(params_path))}\\"\\n.byte 0\\n.previous");', ""]
    return "\n".join(lines)


def _c_string(text: str) -> str:
    if any(ch in text for ch in '"\\\n') or not text.isprintable():
        raise DeployError(f"export_library: expected names and paths without quotes, backslashes or "
                          f"control characters, got {text!r}")
    return text


def _run(command: list[str], where: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise DeployError(f"{where}: expected {command[0]} to succeed, it exited with {done.returncode}:\n"
                          f"{done.stderr.strip()[-2000:]}")
