"""Cross-compilation and the deployable shared library: the C runtime and the example runner
(`examples/deploy_c`) against the interpreter, on the host and on AArch64 under qemu-user."""

from __future__ import annotations

import ctypes
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

import frittata as ft
from frittata.backends.cross import CrossModule
from frittata.backends.export import RUNTIME
from frittata.backends.jit import BARRIER_WORDS, MAX_THREADS, Machine, host
from frittata.backends.llvm.build import build
from frittata.backends.runtime import Module
from frittata.errors import DeployError, FrittataError
from frittata.terms import builders as T
from frittata.terms import zoo

AARCH64 = "llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a72"
AARCH64_TOOLS = ("aarch64-linux-gnu-gcc", "qemu-aarch64")
"""Debian's gcc-aarch64-linux-gnu and qemu-user, which the test command installs."""

_spec = importlib.util.spec_from_file_location(
    "deploy", Path(__file__).parents[3] / "examples" / "deploy_c" / "deploy.py")
assert _spec is not None and _spec.loader is not None
deploy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(deploy)


PROGRAMS = {"mlp": zoo.mlp, "cnn": zoo.small_cnn}


def check_from_c(module, program: ft.Program, directory: Path, threads: int = 1) -> None:
    inputs = zoo.example_input(program)
    got, printed = deploy.run_from_c(module, inputs, directory, repeat=2, threads=threads)
    want = ft.evaluate(program, inputs)
    assert set(got) == set(want) and "median" in printed
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("name", PROGRAMS)
def test_host_library_from_c_equals_the_interpreter(name, tmp_path):
    program = PROGRAMS[name]()
    check_from_c(ft.compile(program), program, tmp_path, threads=2)


def test_host_library_runs_resnet18_from_c(tmp_path):
    """The deployment example's default: ResNet-18 (zoo) as a shared library, run by the C runner."""
    program = zoo.resnet18()
    check_from_c(ft.compile(program), program, tmp_path, threads=2)


@pytest.mark.skipif(any(shutil.which(tool) is None for tool in AARCH64_TOOLS),
                    reason=f"needs {AARCH64_TOOLS} (Debian gcc-aarch64-linux-gnu, qemu-user)")
@pytest.mark.parametrize("name", PROGRAMS)
def test_aarch64_library_under_qemu_equals_the_interpreter(name, tmp_path):
    program = PROGRAMS[name]()
    module = ft.compile(program, target=AARCH64)
    assert isinstance(module, CrossModule) and module.triple == "aarch64-linux-gnu"
    assert "aarch64" in module.report["backend"]["target"]
    check_from_c(module, program, tmp_path, threads=2)


def test_c_api_checks_names_sizes_and_state(tmp_path):
    program = zoo.mlp()
    lib = ctypes.CDLL(str(ft.compile(program).export_library(tmp_path / "mlp.so")))
    lib.frittata_model_error.restype = ctypes.c_char_p
    lib.frittata_model_input.restype = ctypes.c_void_p
    assert (tmp_path / "frittata_model.h").exists()
    model = ctypes.c_void_p()
    assert lib.frittata_model_create(0, ctypes.byref(model)) == 5
    assert b"expected 1 to 256 threads, got 0" in lib.frittata_model_error(None)
    assert lib.frittata_model_create(MAX_THREADS + 1, ctypes.byref(model)) == 5
    assert b"expected 1 to 256 threads, got 257" in lib.frittata_model_error(None)
    assert lib.frittata_model_create(1, ctypes.byref(model)) == 0
    (name, x), = zoo.example_input(program).items()
    data = x.ctypes.data_as(ctypes.c_void_p)
    assert lib.frittata_model_run(model) == 4
    assert f"input '{name}' is not".encode() in lib.frittata_model_error(model)
    assert lib.frittata_model_set_input(model, b"nope", data, ctypes.c_size_t(x.nbytes)) == 1
    assert f"expected one of the inputs '{name}', got 'nope'".encode() in lib.frittata_model_error(model)
    assert lib.frittata_model_set_input(model, name.encode(), data, ctypes.c_size_t(x.nbytes - 4)) == 2
    assert f"expected {x.nbytes} bytes (float32), got {x.nbytes - 4}".encode() in lib.frittata_model_error(model)
    assert lib.frittata_model_set_input(model, name.encode(), data, ctypes.c_size_t(x.nbytes)) == 0
    assert lib.frittata_model_run(model) == 0
    (out_name, want), = ft.evaluate(program, {name: x}).items()
    out = np.empty_like(want)
    assert lib.frittata_model_get_output(model, out_name.encode(), out.ctypes.data_as(ctypes.c_void_p),
                                         ctypes.c_size_t(out.nbytes)) == 0
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)
    assert lib.frittata_model_num_inputs() == 1 and lib.frittata_model_input(1) is None
    lib.frittata_model_free(model)


def test_cross_module_saves_loads_and_refuses_to_run_here(tmp_path):
    module = ft.compile(zoo.mlp(), target=AARCH64)
    elsewhere = f"expected to run on a aarch64-linux-gnu machine, this one is {host().triple}"
    with pytest.raises(DeployError, match=elsewhere):
        module.run(**zoo.example_input(zoo.mlp()))
    module.save(tmp_path / "mlp.ftm")
    loaded = ft.load(tmp_path / "mlp.ftm")
    assert isinstance(loaded, CrossModule) and loaded.inputs == module.inputs
    with pytest.raises(DeployError, match="expected the C compiler 'no-such-cc'"):
        loaded.export_library(tmp_path / "mlp.so", cc="no-such-cc")


FEATURES_SOME_HOSTS_LACK = ("avx512f", "avx512fp16", "amx-tile", "avx512vp2intersect", "sha512")


def test_code_for_features_this_host_lacks_is_a_cross_module(tmp_path):
    """Code for this triple with a CPU feature the host lacks (AVX-512 on an AVX2 machine) builds,
    saves and loads as a `CrossModule` that names the feature, and never runs here."""
    here = host()
    lacking = next(f for f in FEATURES_SOME_HOSTS_LACK if f"+{f}" not in here.features.split(","))
    program = zoo.mlp()
    module = build(program, target=Machine(here.triple, here.cpu, f"{here.features},+{lacking}"))
    assert isinstance(module, CrossModule)
    with pytest.raises(DeployError, match=f"expected a CPU with \\['\\+{lacking}'\\]"):
        module.run(**zoo.example_input(program))
    module.save(tmp_path / "mlp.ftm")
    loaded = ft.load(tmp_path / "mlp.ftm")
    assert isinstance(loaded, CrossModule) and loaded.inputs == module.inputs
    with pytest.raises(DeployError, match=lacking):
        Module(module._saved)


def test_target_strings():
    assert Machine.parse("llvm") == host()
    machine = Machine.parse(AARCH64)
    assert (machine.triple, machine.cpu, machine.lanes) == ("aarch64-linux-gnu", "cortex-a72", 4)
    assert Machine.parse("llvm -mtriple=wasm32-unknown-unknown -mattr=+simd128").lanes == 4
    for bad, message in [("gcc", "expected 'llvm'"), ("llvm -mcpu", "each with a value"),
                         ("llvm -O3=1", "expected options"), ("llvm -mtriple=nope-nope", "a triple LLVM")]:
        with pytest.raises(FrittataError, match=message):
            Machine.parse(bad)


def test_c_api_reports_an_out_of_range_index(tmp_path):
    """A run-time index check (an embedding lookup) fails the C run with FRITTATA_ERROR_INDEX."""
    from frittata.terms.indexing import take

    table = T.param("table", np.arange(40, dtype=np.float32).reshape(10, 4))
    program = ft.Program({"rows": take(table, T.var("ids", (3,), "int64"))})
    lib = ctypes.CDLL(str(ft.compile(program).export_library(tmp_path / "lookup.so")))
    lib.frittata_model_error.restype = ctypes.c_char_p
    model = ctypes.c_void_p()
    assert lib.frittata_model_create(1, ctypes.byref(model)) == 0
    rows = np.empty((3, 4), np.float32)
    for ids, code in [([1, -1, 9], 0), ([1, 10, 2], 6), ([0, 0, 0], 0)]:
        x = np.array(ids, np.int64)
        assert lib.frittata_model_set_input(model, b"ids", x.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(24)) == 0
        assert lib.frittata_model_run(model) == code, lib.frittata_model_error(model)
        if code:
            assert b"index 10 at flat position 1" in lib.frittata_model_error(model)
            assert b"[-10, 10)" in lib.frittata_model_error(model)
            continue
        assert lib.frittata_model_get_output(model, b"rows", rows.ctypes.data_as(ctypes.c_void_p),
                                             ctypes.c_size_t(rows.nbytes)) == 0
        np.testing.assert_array_equal(rows, np.take(np.arange(40, dtype=np.float32).reshape(10, 4), ids, axis=0))
    lib.frittata_model_free(model)


WASM = "llvm -mtriple=wasm32-unknown-unknown -mattr=+simd128,+bulk-memory"


@pytest.mark.skipif(shutil.which("wasm-ld") is None or importlib.util.find_spec("wasmtime") is None,
                    reason="needs wasm-ld (Debian lld) and the wasmtime package")
@pytest.mark.parametrize("name", PROGRAMS)
def test_wasm_module_in_wasmtime_equals_the_interpreter(name, tmp_path):
    from frittata.backends.wasm import WasmModule

    program = PROGRAMS[name]()
    module = ft.compile(program, target=WASM)
    assert isinstance(module, CrossModule) and module.triple == "wasm32-unknown-unknown"
    with pytest.raises(DeployError, match="export_wasm"):
        module.export_library(tmp_path / "no.so")
    wasm = WasmModule(module.export_wasm(tmp_path / f"{name}.wasm"))
    inputs = zoo.example_input(program)
    got, want = wasm.run(**inputs), ft.evaluate(program, inputs)
    for out in want:
        np.testing.assert_allclose(got[out], want[out], rtol=1e-4, atol=1e-5, err_msg=out)


@pytest.mark.skipif(shutil.which("wasm-ld") is None or importlib.util.find_spec("wasmtime") is None,
                    reason="needs wasm-ld (Debian lld) and the wasmtime package")
def test_wasm_module_checks_run_time_indices(tmp_path):
    from frittata.backends.wasm import WasmModule
    from frittata.errors import RuntimeInputError
    from frittata.terms.indexing import take

    table = T.param("table", np.arange(40, dtype=np.float32).reshape(10, 4))
    program = ft.Program({"rows": take(table, T.var("ids", (3,), "int64"))})
    wasm = WasmModule(ft.compile(program, target=WASM).export_wasm(tmp_path / "lookup.wasm"))
    ids = np.array([3, -2, 0], np.int64)
    np.testing.assert_array_equal(wasm.run(ids=ids)["rows"], np.arange(40, dtype=np.float32).reshape(10, 4)[ids])
    with pytest.raises(RuntimeInputError, match=r"index -11 at position \(2,\)"):
        wasm.run(ids=np.array([0, 1, -11], np.int64))


@pytest.mark.parametrize("name", PROGRAMS)
def test_ptx_kernels_are_emitted_and_assemble(name):
    """Each distinct kernel becomes a PTX module with a launcher entry; ptxas (CUDA) accepts it
    when it is installed. Running it needs a GPU, which this machine does not have."""
    from frittata.backends.ptx import assemble, emit_ptx

    modules = emit_ptx(ft.compile(PROGRAMS[name]()).program)
    assert modules
    for symbol, ptx in modules.items():
        assert ".target sm_80" in ptx and f".visible .entry {symbol}_entry(" in ptx and "bar.sync" in ptx
        if shutil.which("ptxas"):
            assert assemble(ptx)


def test_four_lane_blocked_kernels_equal_the_interpreter():
    """The register-blocked kernels at 4 fp32 lanes (AArch64 NEON's width), checked natively on
    this x86 host through an SSE4.2 target; the AArch64 tests above run the same kernels under qemu."""
    from frittata.backends.llvm.build import build

    sse = Machine(host().triple, "x86-64", "+sse2,+sse3,+ssse3,+sse4.1,+sse4.2")
    assert sse.lanes == 4
    rng = np.random.default_rng(0)

    def param(name, *shape):
        return T.param(name, rng.standard_normal(shape).astype(np.float32))

    x = T.var("x", (1, 16, 13, 11))
    programs = [T.conv2d(x, param("w", 20, 16, 3, 3), pads=1),
                T.conv2d(x, param("w", 7, 16, 3, 3), strides=2, pads=1),
                T.conv2d(x, param("w", 16, 1, 3, 3), pads=1, groups=16),
                T.dense(T.var("x", (5, 37)), param("w", 23, 37)),
                T.matmul(T.var("x", (3, 9, 17)), T.var("b", (3, 17, 10)))]
    for term in programs:
        program = ft.Program({"y": term})
        module = build(program, threads=2, target=sse)
        assert module.report["backend"]["fast_paths"] == [term.op.value]
        inputs = zoo.example_input(program)
        np.testing.assert_allclose(module.run(**inputs)["y"], ft.evaluate(program, inputs)["y"], rtol=1e-4, atol=1e-4)


def test_the_c_runtime_allocates_the_barrier_the_kernels_use():
    """The kernels' team state (arrivals, the {phase, items claimed} word, items done, each
    thread's own phase) is BARRIER_WORDS int32s; the exported C runtime declares its own copy
    of it."""
    source = (Path(ft.__file__).parent / "backends" / "c" / RUNTIME).read_text()
    assert f"int32_t barrier[{BARRIER_WORDS}];" in source
    assert f"#define FRITTATA_MAX_THREADS {MAX_THREADS}\n" in source
