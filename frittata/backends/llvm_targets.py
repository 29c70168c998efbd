"""LLVM's code generators, looked up by triple: every one llvmlite has is initialised where it
is first needed, so no caller depends on another having initialised LLVM before it; and the CPU
names each knows, checked before a target machine is made for a CPU named by a user; and a CPU
with its features tried in a child process, where LLVM may end the process instead of this one."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from collections.abc import Sequence
from functools import cache

from llvmlite import binding as llvm

from frittata.errors import TargetError


@cache
def initialize_all() -> None:
    """Every code generator llvmlite has (x86, AArch64, WebAssembly, NVPTX, ...) and its assembly
    printer, for the host and for cross targets."""
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()


def llvm_target(triple: str, where: str) -> llvm.Target:
    """LLVM's target for `triple`; `where` names what asked (a target string, a module)."""
    initialize_all()
    try:
        return llvm.Target.from_triple(triple)
    except RuntimeError as error:
        raise TargetError(f"{where}: expected a triple LLVM can generate code for, got {triple!r} ({error})") from None


CHILD_SECONDS = 30.0
"""How long a child process running LLVM may take (wall time; ~0.3 s on a quiet machine)."""


def run_child(script: str, args: Sequence[str], where: str,
              seconds: float = CHILD_SECONDS) -> subprocess.CompletedProcess[str]:
    """`script` run by this Python in a child process with `args`, its output captured; the
    child's PYTHONPATH is this process's sys.path, so it imports the same llvmlite. A process with
    no interpreter to start (a frozen application, an empty sys.executable), a child that cannot
    start or one still running after `seconds` is a TargetError; `where` names what asked."""
    frozen = getattr(sys, "frozen", False)
    if frozen or not sys.executable:
        raise TargetError(f"{where}: expected a Python interpreter to run LLVM in a child process, got "
                          f"sys.executable {sys.executable!r}" + (" (a frozen application)" if frozen else ""))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
    try:
        return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                              timeout=seconds, env=env)
    except subprocess.TimeoutExpired:
        raise TargetError(f"{where}: expected LLVM's answer from a child process within {seconds:g} s, got "
                          "none (it was ended)") from None
    except OSError as error:
        raise TargetError(f"{where}: expected to start a child process running {sys.executable!r}, got "
                          f"{error}") from None


CPU_TABLE = """import sys
from llvmlite import binding as llvm
llvm.initialize_all_targets()
llvm.Target.from_triple(sys.argv[1]).create_target_machine(cpu="generic", features="+cpuhelp")
"""
"""A child process's script printing LLVM's CPU names for the triple `sys.argv[1]` to stderr, as
`llc -mcpu=help` does: "Available CPUs for this target:", then one tab-indented name a line."""
CPU_EXAMPLES = ("znver3", "skylake-avx512", "cortex-a72")


@cache
def known_cpus(triple: str) -> frozenset[str]:
    """The CPU names LLVM knows for `triple`, read from its own table. llvmlite has no call that
    lists them, and a name LLVM does not know cannot be tried in this process: LLVM warns "is
    not a recognized processor" and then ends the process (x86-64: exit(1), "64-bit code
    requested on a subtarget that doesn't support it"; i686: an assertion). LLVM prints the
    table (the "+cpuhelp" feature) only once per process, so a child process prints it, once
    per triple (~0.2 s of CPU); a child that fails is a TargetError (`run_child`)."""
    done = run_child(CPU_TABLE, [triple], f"CPU names for {triple}")
    table = done.stderr.partition("Available CPUs for this target:")[2]
    names = frozenset(line.strip() for line in table.splitlines() if line.startswith("\t"))
    if done.returncode != 0 or not names:
        raise TargetError(f"CPU names for {triple}: expected LLVM's table from a child process, got exit status "
                          f"{done.returncode} and {done.stderr[-300:]!r}")
    return names


def check_cpu(triple: str, cpu: str, where: str) -> None:
    """A TargetError unless LLVM knows `cpu` for `triple` (`known_cpus`); `where` names what asked."""
    known = known_cpus(triple)
    if cpu in known:
        return
    examples = [name for name in CPU_EXAMPLES if name in known] or sorted(known)[:2]
    close = difflib.get_close_matches(cpu, known, n=1)
    raise TargetError(f"{where}: expected a CPU name LLVM knows for {triple} (e.g. {', '.join(examples)}), got "
                      f"{cpu!r}" + (f"; did you mean {close[0]!r}?" if close else ""))


MACHINE_CHECK = """import sys
from llvmlite import binding as llvm
llvm.initialize_all_targets()
llvm.initialize_all_asmprinters()
triple, cpu, features = sys.argv[1:4]
machine = llvm.Target.from_triple(triple).create_target_machine(cpu=cpu, features=features)
module = llvm.parse_assembly("define void @f() {\\n  ret void\\n}\\n")
module.triple = triple
machine.emit_assembly(module)
"""
"""A child process's script making the target machine for `sys.argv[1:4]` (triple, CPU,
features) and emitting one empty function's assembly with it (NVPTX emits no object files): LLVM
makes a function's subtarget, and checks the CPU and features together, only when it generates
code."""


@cache
def _machine_failure(triple: str, cpu: str, features: str) -> str | None:
    """What LLVM printed when the child running `MACHINE_CHECK` failed, or None when it made code."""
    done = run_child(MACHINE_CHECK, [triple, cpu, features], f"CPU {cpu!r} with features {features!r} for {triple}")
    return None if done.returncode == 0 else f"exit status {done.returncode}: {done.stderr.strip()[-300:]!r}"


def check_machine(triple: str, cpu: str, features: str, where: str) -> None:
    """A TargetError unless LLVM generates code for `cpu` with `features` on `triple` in a child
    process (~0.15 s of CPU, once per machine): a CPU without 64-bit support on an x86-64 triple
    ("-mcpu=pentium4", "-mattr=-64bit") ends the process that makes its code, with "LLVM ERROR:
    64-bit code requested on a subtarget that doesn't support it"."""
    failure = _machine_failure(triple, cpu, features)
    if failure is not None:
        raise TargetError(f"{where}: expected a CPU and features LLVM can generate {triple} code for, got CPU "
                          f"{cpu!r} with features {features!r}; LLVM's code generator ended with {failure}")
