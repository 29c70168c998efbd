"""NVPTX: a program's kernels as PTX for an NVIDIA GPU, emitted and assembled but not run (no
GPU here; running them waits for a machine with one).

The program is extracted for the host (`ft.compile(...).program`, or any Program), planned and
lowered by the llvm backend as usual, for a machine with scalar lanes (the register-blocked
paths are CPU kernels). Each distinct kernel becomes one PTX module holding

    the kernel as a device function   void fk_<hash>(ptr table, i32 tid, i32 nthreads, ptr barrier)
    its launcher                      .entry fk_<hash>_entry(ptr table, ptr barrier):
                                          fk_<hash>(table, threadIdx.x, blockDim.x, barrier)
    the program barrier               bar.sync 0 (llvm.nvvm.barrier0)

so one thread block runs a kernel with its threads splitting the loops by thread id, as the CPU
threads do. `assemble` runs `ptxas` (the CUDA toolkit's assembler) on a module, the check that the
PTX is valid for the architecture.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from frittata.backends.jit import Machine, optimize, verify
from frittata.backends.llvm.codegen import BARRIER, emit_module
from frittata.backends.llvm.plan import make_plan
from frittata.backends.llvm_targets import llvm_target
from frittata.errors import DeployError
from frittata.terms.program import Program

TRIPLE = "nvptx64-nvidia-cuda"
ASSEMBLER = "ptxas"


def launcher_ir(symbol: str) -> str:
    """The `.entry` wrapper and the block barrier appended to a kernel unit's IR."""
    return f'''
declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()
declare i32 @llvm.nvvm.read.ptx.sreg.ntid.x()
declare void @llvm.nvvm.barrier0()

define void @"{BARRIER}"(ptr %state, i32 %n, i32 %tid, i32 %claimed) {{
  call void @llvm.nvvm.barrier0()
  ret void
}}

define ptx_kernel void @"{symbol}_entry"(ptr %table, ptr %barrier) {{
  %tid = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  %n = call i32 @llvm.nvvm.read.ptx.sreg.ntid.x()
  call void @"{symbol}"(ptr %table, i32 %tid, i32 %n, ptr %barrier)
  ret void
}}
'''


def emit_ptx(program: Program, arch: str = "sm_80") -> dict[str, str]:
    """PTX text of each distinct kernel of `program`, by kernel symbol, for GPU architecture `arch`."""
    machine = Machine.parse(f"llvm -mtriple={TRIPLE} -mcpu={arch}")
    plan = make_plan(program, lambda term: 0)
    emitted = emit_module(plan, machine)
    target = llvm_target(TRIPLE, "emit_ptx").create_target_machine(cpu=arch, opt=3)
    modules = {}
    for symbol, text in emitted.kernels.items():
        kernel = "\n".join(line for line in text.splitlines()
                            if not (line.startswith("declare") and f'@"{BARRIER}"' in line))
        module = verify(kernel + launcher_ir(symbol), symbol)
        module.data_layout = str(target.target_data)
        optimize(module, machine)
        modules[symbol] = target.emit_assembly(module)
    return modules


def assemble(ptx: str, arch: str = "sm_80") -> bytes:
    """The cubin `ptxas` makes of one PTX module; DeployError when ptxas is missing or refuses it."""
    if shutil.which(ASSEMBLER) is None:
        raise DeployError(f"assemble: expected the CUDA assembler {ASSEMBLER!r} on PATH, found none")
    with tempfile.TemporaryDirectory(prefix="frittata-ptx-") as scratch:
        source, out = Path(scratch) / "kernel.ptx", Path(scratch) / "kernel.cubin"
        source.write_text(ptx)
        done = subprocess.run([ASSEMBLER, f"-arch={arch}", str(source), "-o", str(out)], capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise DeployError(f"assemble: expected {ASSEMBLER} to accept the PTX for {arch}, it exited with "
                              f"{done.returncode}:\n{done.stderr.strip()[-2000:]}")
        return out.read_bytes()
