"""The command line end to end: compile, report, run, errors, demo."""

import subprocess
import sys

import numpy as np
import pytest

from frittata.terms import zoo
from frittata.terms.onnx_export import save_onnx


def frittata(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "frittata", *args], capture_output=True, text=True, timeout=600)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    program = zoo.get("mlp")
    save_onnx(program, folder / "mlp.onnx")
    done = frittata("-q", "compile", str(folder / "mlp.onnx"), "-o", str(folder / "mlp.ftm"), "--report")
    return folder, program, done


def test_compile_reports_every_stage(compiled):
    _, _, done = compiled
    for stage in ("saturate", "extract", "fold", "build"):
        assert stage in done.stdout
    assert "fired fuse-dense-bias" in done.stdout


def test_run_prints_and_saves_outputs_equal_to_the_interpreter(compiled):
    folder, program, _ = compiled
    x = zoo.example_input(program)["x"]
    np.save(folder / "x.npy", x)
    done = frittata("run", str(folder / "mlp.ftm"), "--input", f"x={folder / 'x.npy'}", "--output", str(folder / "out"))
    assert done.stdout.startswith("y: float32[1, 10]")
    from frittata import evaluate

    expected = evaluate(program, {"x": x})["y"]
    np.testing.assert_allclose(np.load(folder / "out" / "y.npy"), expected, rtol=1e-4, atol=1e-4)


def test_run_with_a_wrong_input_shape_is_a_clear_error(compiled):
    folder, _, _ = compiled
    np.save(folder / "bad.npy", np.zeros((2, 784), np.float32))
    done = frittata("run", str(folder / "mlp.ftm"), "--input", f"x={folder / 'bad.npy'}", check=False)
    assert done.returncode == 2
    assert "input 'x': expected float32[1, 784], got float32[2, 784]" in done.stderr


def test_compile_of_a_missing_file_is_a_clear_error(tmp_path):
    done = frittata("compile", str(tmp_path / "nope.onnx"), check=False)
    assert done.returncode == 2 and "frittata: error:" in done.stderr


def test_demo_checks_the_compiled_model_against_the_interpreter():
    done = frittata("demo", "--model", "mlp")
    assert "-> ok" in done.stdout and "MISMATCH" not in done.stdout


def test_show_draws_the_compiled_program_as_dot_text(tmp_path):
    frittata("-q", "compile", "zoo:mlp", "--show", str(tmp_path / "mlp.dot"))
    dot = (tmp_path / "mlp.dot").read_text()
    assert dot.startswith("digraph") and dot.count("fused_dense") == 3


def test_demo_for_vta_quantizes_and_checks_bit_exactly():
    done = frittata("demo", "--model", "mlp", "--target", "vta")
    assert "quantize   int8" in done.stdout and "-> ok" in done.stdout and "VtaModule" in done.stdout
