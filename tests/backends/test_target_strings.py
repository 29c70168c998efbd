"""Target strings ("llvm -mtriple=... -mcpu=... -mattr=...") that name no machine LLVM can
generate code for are a `TargetError` saying what was expected, what was given and where."""

from __future__ import annotations

import subprocess
import sys

import pytest

from frittata.backends import jit, llvm_targets
from frittata.backends.jit import Machine, host
from frittata.errors import TargetError


@pytest.mark.parametrize("spec, message", [
    ("gcc", "expected 'llvm'"),
    ("llvm -mcpu", "each with a value"),
    ("llvm -O3=1", "expected options"),
    ("llvm -mtriple=nope-nope", "a triple LLVM"),
    ("llvm -mcpu=skylake-avx512 -mattr=avx512f", r"expected -mattr entries '\+feature' or '-feature'.* got 'avx512f'"),
    ("llvm -mattr=+avx2,", "got ''"),
    ("llvm -mattr=+avx2,,+fma", "got ''"),
    ("llvm -mattr=+avx2;+fma", r"got '\+avx2;\+fma'"),
    ("llvm -mcpu=sapphirerapid", r"expected a CPU name LLVM knows for x86_64-unknown-linux-gnu \(e.g. znver3, "
                                 r"skylake-avx512\), got 'sapphirerapid'; did you mean 'sapphirerapids'\?"),
    ("llvm -mtriple=i686-linux-gnu -mcpu=bogus", "expected a CPU name LLVM knows for i686-linux-gnu .* got 'bogus'"),
    ("llvm -mtriple=aarch64-linux-gnu -mcpu=znver3", r"knows for aarch64-linux-gnu \(e.g. cortex-a72\), got 'znver3'"),
])
def test_a_malformed_target_string_is_a_target_error(spec, message):
    with pytest.raises(TargetError, match=message):
        Machine.parse(spec)


def test_the_package_initialises_llvm_where_it_first_needs_a_target():
    """A fresh process whose first LLVM use is the barrier's layout or a machine built directly
    (as tests/backends/llvm/test_snapshots.py's first test does) finds the target registered."""
    first_uses = ("from frittata.backends.llvm.barrier import phase_word\n"
                  "print(phase_word('x86_64-unknown-linux-gnu'), phase_word('aarch64-linux-gnu'))\n"
                  "from frittata.backends.jit import Machine, host\n"
                  "print(Machine('aarch64-linux-gnu', 'cortex-a72', '+neon').machine().triple)\n")
    done = subprocess.run([sys.executable, "-c", first_uses], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "3", "aarch64-linux-gnu"]


SURVIVES = """
from frittata.backends.jit import Machine, host
from frittata.errors import TargetError
for spec in {specs!r}:
    try:
        Machine.parse(spec)
    except TargetError as error:
        print(error)
    else:
        print('parsed', spec)
"""


@pytest.mark.parametrize("specs", [
    ["llvm -mcpu=skylake-avx512 -mattr=avx512f", "llvm -mtriple=i686-linux-gnu -mcpu=i686 -mattr=fma"],
    ["llvm -mcpu=sapphirerapid", "llvm -mtriple=i686-linux-gnu -mcpu=bogus", "llvm -mcpu=help",
     "llvm -mtriple=aarch64-linux-gnu -mcpu=znver3"],
])
def test_the_process_survives_target_strings_llvm_would_abort_on(specs):
    """Each string is refused with a TargetError before LLVM sees it (a child process, so that
    an abort fails the test instead of ending the test run)."""
    done = subprocess.run([sys.executable, "-c", SURVIVES.format(specs=specs)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert [line.split(": expected")[0] for line in done.stdout.splitlines()] == [f"target {s!r}" for s in specs]


def test_a_cpu_and_features_llvm_cannot_make_code_for_are_a_target_error():
    """Known CPUs without 64-bit support, or 64-bit switched off, on the x86-64 triple: LLVM ends
    the process that makes code for them ("64-bit code requested on a subtarget that doesn't
    support it"), so a child process tries them first (before: this child exited with status 1)."""
    specs = ["llvm -mcpu=pentium4", "llvm -mcpu=i386", "llvm -mcpu=athlon-xp", "llvm -mcpu=znver3 -mattr=-64bit",
             "llvm -mattr=-64bit"]
    done = subprocess.run([sys.executable, "-c", SURVIVES.format(specs=specs)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(": expected")[0] for line in lines] == [f"target {s!r}" for s in specs]
    assert all("64-bit code requested" in line for line in lines)


@pytest.mark.parametrize("spec, lanes, features", [
    ("llvm -mcpu=skylake-avx512 -mattr=+avx512f,-avx512f", 8, {"-avx512f", "+avx", "+avx2", "+fma"}),
    ("llvm -mattr=+avx512f,-avx512f", 4, {"-avx512f"}),
    ("llvm -mattr=-avx2,+fma,+avx2", 8, {"+fma", "+avx2", "+avx"}),  # AVX2 implies AVX
])
def test_the_last_mattr_entry_for_a_feature_wins_as_in_llvm(spec, lanes, features):
    machine = Machine.parse(spec)
    assert machine.lanes == lanes
    assert set(machine.features.split(",")) == features


def test_native_is_the_hosts_cpu_and_its_features():
    machine = Machine.parse("llvm -mcpu=native")
    assert (machine.triple, machine.cpu, machine.lanes) == (host().triple, host().cpu, host().lanes)
    assert set(machine.features.split(",")) == set(host().features.split(","))
    without = Machine.parse("llvm -mcpu=native -mattr=-avx2,-avx512f")
    assert without.cpu == host().cpu and without.lanes == 4


@pytest.mark.parametrize("triple", ["x86_64-apple-macosx", "x86_64-pc-windows-msvc", "x86_64-unknown-linux-gnu"])
def test_a_named_cpu_has_its_features_on_every_object_format(triple):
    """Mach-O assembly names a function "_probe0:", COFF's has no ".Lfunc_end" labels."""
    machine = Machine.parse(f"llvm -mtriple={triple} -mcpu=skylake-avx512")
    assert machine.lanes == 16
    assert set(machine.features.split(",")) == {"+avx", "+avx2", "+fma", "+avx512f", "+avx512bw"}


NOT_PARSED = """
import dataclasses
import sys
import frittata as ft
from frittata.backends.export import export_library
from frittata.backends.jit import Machine, host, machine_of
from frittata.backends.llvm import build
from frittata.terms import builders as tb
program = ft.Program({"y": tb.relu(tb.var("x", (4, 8)))})
saved = ft.compile(program)._saved
for cpu, features in (("sapphirerapid", saved.meta["features"]), ("pentium4", "+sse2"), ("", saved.meta["features"])):
    header = dataclasses.replace(saved, meta=dict(saved.meta, cpu=cpu, features=features))
    try:
        print(machine_of(header).cpu == cpu and export_library(header, sys.argv[1] + "/lib.so").name)
    except ft.FrittataError as error:
        print(type(error).__name__, error)
try:
    build(program, target=Machine(host().triple, "pentium4", ""))
except ft.FrittataError as error:
    print(type(error).__name__, error)
"""


def test_a_machine_not_from_a_target_string_is_checked_before_llvm_makes_code_for_it(tmp_path):
    """A module header's CPU (one a newer LLVM knows, or one without 64-bit support) is a
    ModuleFormatError, a header without a CPU (older files) is LLVM's generic CPU, and a Machine
    built directly is checked where it first makes a target machine (a child process: before,
    export_library and build ended it, LLVM's "64-bit code requested" exit)."""
    done = subprocess.run([sys.executable, "-c", NOT_PARSED, str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("ModuleFormatError module header: machine 'sapphirerapid' for x86_64")
    assert "did you mean 'sapphirerapids'?" in lines[0]
    assert lines[1].startswith("ModuleFormatError module header: ") and "64-bit code requested" in lines[1]
    assert lines[2] == "lib.so"
    assert lines[3].startswith(f"TargetError machine 'pentium4' for {host().triple}: expected a CPU and features")
    assert "64-bit code requested" in lines[3]


@pytest.mark.parametrize("executable, frozen, message", [
    ("", False, "expected a Python interpreter .* got sys.executable ''"),
    (None, False, "expected a Python interpreter .* got sys.executable None"),
    (sys.executable, True, r"expected a Python interpreter .* \(a frozen application\)"),
    ("/nonexistent/python", False, "expected to start a child process running '/nonexistent/python'"),
])
def test_a_child_process_that_cannot_run_is_a_target_error(monkeypatch, executable, frozen, message):
    """Before: PermissionError (""), TypeError (None) from subprocess, and a frozen application's
    sys.executable (the application itself) run with -c."""
    monkeypatch.setattr(sys, "executable", executable)
    if frozen:
        monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(TargetError, match=f"test: {message}"):
        llvm_targets.run_child("print(1)", [], "test")


def test_a_child_process_that_hangs_is_a_target_error_and_finds_this_processs_modules():
    """Before: subprocess.TimeoutExpired after 300 s."""
    with pytest.raises(TargetError, match="test: expected LLVM's answer from a child process within 0.5 s"):
        llvm_targets.run_child("import time; time.sleep(30)", [], "test", seconds=0.5)
    done = llvm_targets.run_child("import sys; print(repr(sys.path))", [], "test")
    assert set(filter(None, sys.path)) <= set(eval(done.stdout))


def test_native_needs_no_child_process(monkeypatch):
    """The host's CPU is one LLVM knows (before: -mcpu=native checked it against LLVM's table)."""
    def refuse(*args: object) -> None:
        raise AssertionError(f"a child process for {args}")
    monkeypatch.setattr(llvm_targets, "run_child", refuse)
    monkeypatch.setattr(jit, "check_cpu", refuse)  # known_cpus may have its answer cached
    assert Machine.parse("llvm -mcpu=native") == host()


def test_a_32_bit_x86_target_compiles():
    """i686's code generator asserts on a call (exp's, the feature probe's fma without FMA) in
    the JIT's large code model, which a module for another triple does not need (a child process:
    before, it aborted)."""
    compile_i686 = ("import frittata as ft\nfrom frittata.terms import builders as tb\n"
                    "program = ft.Program({'y': tb.exp(tb.var('x', (4, 8)))})\n"
                    "print(ft.compile(program, target='llvm -mtriple=i686-linux-gnu -mcpu=i686').report['backend']"
                    "['target'])\n")
    done = subprocess.run([sys.executable, "-c", compile_i686], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "i686-linux-gnu i686 (4 fp32 lanes)"
