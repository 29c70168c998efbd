"""The command line end to end, run as users run it (`python -m frittata ...` in a subprocess, in
temporary folders, or `main(argv)` where no compile is needed): every README command, its
outputs checked against the interpreter, its global flags in either position, and its exit codes
(0 success, 1 a check failed, 2 a usage or input error)."""

import ctypes
import json
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import frittata as ft
from frittata import terms as T
from frittata.cli import main
from frittata.terms import zoo
from frittata.terms.onnx_export import save_onnx
from tests.backends.vta.onnx_models import one_node_model


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
        assert re.search(rf"^{stage} +[0-9.]+ s \(cpu [0-9.]+ s\)$", done.stdout, re.MULTILINE), stage
    assert "fired fuse-dense-bias" in done.stdout
    assert re.search(r"^  rules +[0-9]+ of [0-9]+ can fire on the program$", done.stdout, re.MULTILINE)
    for part in ("emit_wall_s", "compile_wall_s", "link_wall_s", "parse_cpu_s", "optimize_cpu_s", "codegen_cpu_s"):
        assert re.search(rf"^  {part}: [0-9.]+$", done.stdout, re.MULTILINE), part


def test_quiet_before_the_subcommand_hides_the_progress_bar(compiled):
    _, _, done = compiled
    assert "compile:" not in done.stderr and "saved" not in done.stdout


def test_quiet_after_the_subcommand_hides_the_progress_bar(compiled):
    folder, _, _ = compiled
    done = frittata("compile", str(folder / "mlp.onnx"), "-o", str(folder / "again.ftm"), "-q")
    assert "compile:" not in done.stderr and "saved" not in done.stdout
    assert (folder / "again.ftm").exists()


def test_run_time_prints_the_median_over_repeats(compiled):
    folder, program, _ = compiled
    np.save(folder / "x.npy", zoo.example_input(program)["x"])
    done = frittata("run", str(folder / "mlp.ftm"), "--input", f"x={folder / 'x.npy'}", "--time", "--repeat", "3")
    outputs, timing = done.stdout.splitlines()
    assert outputs.startswith("y: float32[1, 10]")
    words = timing.split()
    assert words[:2] == ["time:", "median"] and float(words[2]) > 0 and words[3:] == ["ms", "over", "3", "runs"]


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


# ---- every README command, as a user types it, with its exit code ----------------------------

RULES = Path(ft.__file__).parent / "rewrites" / "rules"
CLIP_RULE = "(family mine)\n(rule simplify-clip0-relu (clip (relu ?x) :lo 0.0 :hi ?hi) => (clip ?x :lo 0.0 :hi ?hi))\n"


def _clip_model(folder: Path, batch: int | str = 2) -> tuple[Path, ft.Program, np.ndarray]:
    """relu -> clip(0, 6) after a dense layer, saved as ONNX (batch symbolic if a str)."""
    weight = np.random.default_rng(5).standard_normal((16, 32)).astype(np.float32)
    program = ft.Program({"y": T.clip(T.relu(T.dense(T.var("x", (2, 32)), T.param("w", weight))), 0.0, 6.0)})
    path = folder / "clip.onnx"
    save_onnx(program, path)
    if isinstance(batch, str):
        model = onnx.load(path)
        model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = batch
        onnx.save(model, path)
    return path, program, weight


def test_default_demo_runs_resnet18_and_checks_it():
    """`python -m frittata demo`, exactly as the README's first command."""
    done = frittata("demo")
    assert "resnet18" in done.stdout and "-> ok" in done.stdout and "MISMATCH" not in done.stdout


def test_compile_report_and_svg_then_run_equals_the_interpreter(tmp_path):
    """`compile model.onnx --target llvm -o model.ftm --report --show model.svg`, then `run`."""
    model, program, _ = _clip_model(tmp_path)
    done = frittata("compile", str(model), "--target", "llvm", "-o", str(tmp_path / "m.ftm"),
                    "--report", "--show", str(tmp_path / "m.svg"))
    assert "saturate" in done.stdout and "saved" in done.stdout
    svg = (tmp_path / "m.svg").read_text()
    assert svg.lstrip().startswith(("<?xml", "<svg")) and "</svg>" in svg
    x = np.random.default_rng(6).standard_normal((2, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    frittata("run", str(tmp_path / "m.ftm"), "--input", f"x={tmp_path / 'x.npy'}", "--output", str(tmp_path / "out"))
    np.testing.assert_allclose(np.load(tmp_path / "out" / "y.npy"), ft.evaluate(program, {"x": x})["y"],
                               rtol=1e-5, atol=1e-5)


def test_rules_and_disable_change_what_fires(tmp_path):
    model, _, _ = _clip_model(tmp_path)
    (tmp_path / "mine.rules").write_text(CLIP_RULE)
    mine = frittata("-q", "compile", str(model), "--report", "--rules", str(tmp_path / "mine.rules"))
    assert "simplify-clip0-relu" in mine.stdout
    plain = frittata("-q", "compile", str(model), "--report")
    assert "simplify-clip0-relu" not in plain.stdout and "fuse-" in plain.stdout
    off = frittata("-q", "compile", str(model), "--report", "--disable", "fusion", "fusion_elementwise")
    assert "fuse-" not in off.stdout


def test_shape_fixes_a_symbolic_dimension(tmp_path):
    model, _, weight = _clip_model(tmp_path, batch="N")
    missing = frittata("compile", str(model), check=False)
    assert missing.returncode == 2 and "frittata: error:" in missing.stderr and "N" in missing.stderr
    bad = frittata("compile", str(model), "--shape", "x=four,32", check=False)
    assert bad.returncode == 2 and "--shape: expected NAME=D,D,.." in bad.stderr
    frittata("-q", "compile", str(model), "--shape", "x=5,32", "-o", str(tmp_path / "m.ftm"))
    x = np.random.default_rng(7).standard_normal((5, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    done = frittata("run", str(tmp_path / "m.ftm"), "--input", f"x={tmp_path / 'x.npy'}", "--output", str(tmp_path))
    assert done.stdout.startswith("y: float32[5, 16]")
    want = np.clip(x @ weight.T, 0, 6)  # numpy as the oracle: the program was never built at batch 5
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), want, rtol=1e-5, atol=1e-5)


def test_compile_for_vta_then_run_is_bit_exact_against_onnxruntime(tmp_path):
    """An int8 MatMulInteger model compiled with `--target vta`, saved, and run from the file."""
    rng = np.random.default_rng(8)
    node = onnx.helper.make_node("MatMulInteger", ["x", "w"], ["y"])
    weight = rng.integers(-128, 128, (256, 256)).astype(np.int8)
    model = one_node_model(node, {"x": ((64, 256), np.int8)}, ((64, 256), np.int32), {"w": weight})
    onnx.save(model, tmp_path / "q.onnx")
    done = frittata("compile", str(tmp_path / "q.onnx"), "--target", "vta", "--report", "-o", str(tmp_path / "q.ftm"))
    assert "vta_dense" in done.stdout and "1 accelerator call(s)" in done.stdout
    data = rng.integers(-128, 128, (64, 256)).astype(np.int8)
    np.save(tmp_path / "x.npy", data)
    frittata("run", str(tmp_path / "q.ftm"), "--input", f"x={tmp_path / 'x.npy'}", "--output", str(tmp_path / "out"))
    want = ort.InferenceSession(model.SerializeToString()).run(None, {"x": data})[0]
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "y.npy"), want)


def test_compile_for_vta_takes_a_config_file_and_names_a_bad_one(tmp_path):
    """`--vta-config FILE` builds for that design (a 1x32x32 GEMM here); a bad key is exit 2
    with the file and the key named."""
    node = onnx.helper.make_node("MatMulInteger", ["x", "w"], ["y"])
    weight = np.random.default_rng(9).integers(-128, 128, (64, 64)).astype(np.int8)
    onnx.save(one_node_model(node, {"x": ((2, 64), np.int8)}, ((2, 64), np.int32), {"w": weight}), tmp_path / "q.onnx")
    config = json.loads((Path(ft.__file__).parent / "backends/vta/hw/configs/pynq.json").read_text())
    (tmp_path / "vta.json").write_text(json.dumps(config | {"LOG_BLOCK": 5}))
    done = frittata("compile", str(tmp_path / "q.onnx"), "--target", "vta", "--vta-config",
                    str(tmp_path / "vta.json"), "-o", str(tmp_path / "q.ftm"))
    assert "1 accelerator call(s) on 1x32_i8w8a32" in done.stdout
    (tmp_path / "bad.json").write_text(json.dumps(config | {"LOG_BATCH": "one"}))
    failed = frittata("compile", str(tmp_path / "q.onnx"), "--target", "vta", "--vta-config",
                      str(tmp_path / "bad.json"), check=False)
    assert failed.returncode == 2 and "bad.json: LOG_BATCH: expected an int, got 'one'" in failed.stderr


def test_an_exported_int8_model_with_a_right_shift_imports(tmp_path):
    x = T.var("x", (4, 16), "int8")
    w = T.param("w", np.ones((8, 16), np.int8))
    program = ft.Program({"y": T.cast(T.clip(T.right_shift(T.dense(x, w), 2), -127, 127), "int8")})
    save_onnx(program, tmp_path / "q.onnx")
    data = np.arange(64, dtype=np.int8).reshape(4, 16)
    np.testing.assert_array_equal(ft.evaluate(ft.from_onnx(tmp_path / "q.onnx"), {"x": data})["y"],
                                  ft.evaluate(program, {"x": data})["y"])


def test_rules_check_exits_0_on_a_sound_file_and_1_on_a_counterexample(tmp_path):
    (tmp_path / "mine.rules").write_text(CLIP_RULE)
    done = frittata("rules", "check", str(tmp_path / "mine.rules"))
    assert "PASS simplify-clip0-relu" in done.stdout and "1 rules: 1 passed, 0 failed" in done.stdout
    wrong = (RULES / "quant_vta.rules").read_text().replace(
        ":pads (nchw-pads ?p) :value (- ?z (int8-offset ?x))", ":pads (nchw-pads ?p) :value ?z")
    (tmp_path / "wrong.rules").write_text(wrong)
    failed = frittata("rules", "check", str(tmp_path / "wrong.rules"), check=False)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "FAIL tensorize-vta-zero-point-conv2d-padded" in failed.stdout and "uint8" in failed.stdout
    missing = frittata("rules", "check", str(tmp_path / "nope.rules"), check=False)
    assert missing.returncode == 2 and "frittata: error: rules: expected a readable rule file" in missing.stderr


def test_rules_check_compiles_tiled_schedules(tmp_path):
    text = (RULES / "tiling.rules").read_text()
    first_row = text.index("(v8-oc12x8-par-oc")
    first = text[:text.index("\n", first_row)] + ")\n"  # the conv table cut to its first row
    (tmp_path / "one.rules").write_text(first)
    done = frittata("rules", "check", str(tmp_path / "one.rules"))
    compiled = int(done.stdout.split(" compiled\n")[0].rsplit(", ", 1)[1])
    assert compiled >= 2 and "1 rules: 1 passed, 0 failed" in done.stdout, done.stdout


def test_bench_prints_a_ratio_row_and_rejects_unknown_models():
    done = frittata("bench", "--models", "mlp", "--threads", "1")
    header, row = done.stdout.splitlines()[:2]
    assert "ort/ft" in header and row.split()[0] == "mlp"
    assert all(float(v) > 0 for v in row.split()[1:3])
    unknown = frittata("bench", "--models", "nope", check=False)
    assert unknown.returncode == 2 and "expected a model name in" in unknown.stderr


# ---- conventional flags, exit codes and error lines ------------------------------------------


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"frittata {importlib.metadata.version('frittata')}"
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for line in ("exit status:", "0  success", "1  a check failed", "2  usage or input error"):
        assert line in text
    assert main(["run", "--help"]) == 0 and "--time" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert main(["compile", "zoo:mlp", "--no-such-flag"]) == 2
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err
    assert main(["run", "m.ftm", "--time", "--repeat", "0"]) == 2
    assert "expected a positive integer, got '0'" in capsys.readouterr().err


def test_global_flags_parse_in_either_position(tmp_path, capsys):
    path = tmp_path / "mine.rules"
    path.write_text(CLIP_RULE)
    for argv in (["-q", "--debug", "rules", "check", str(path)], ["rules", "check", str(path), "-q", "--debug"],
                 ["rules", "-q", "check", str(path)]):
        assert main(argv) == 0, argv
    assert main(["rules", "check", str(path)]) == 0
    assert "1 rules: 1 passed, 0 failed" in capsys.readouterr().out


def test_an_input_error_is_one_line_without_traceback_unless_debug(tmp_path, capsys):
    missing = str(tmp_path / "nope.ftm")
    assert main(["run", missing]) == 2
    err = capsys.readouterr().err
    assert err.startswith("frittata: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert main(["run", missing, "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.splitlines()[-1].startswith("frittata: error: ")


def test_a_failed_check_exits_1(tmp_path, capsys):
    path = tmp_path / "bad.rules"
    path.write_text("(family mine)\n(rule bad-relu-neg (relu ?x) => (neg ?x))\n")
    assert main(["-q", "rules", "check", str(path)]) == 1
    assert "FAIL bad-relu-neg" in capsys.readouterr().out


def test_compile_refuses_an_unsound_rule_file_unless_told_not_to_check(tmp_path):
    model, _, _ = _clip_model(tmp_path)
    (tmp_path / "bad.rules").write_text("(family mine)\n(rule bad-relu-neg (relu ?x) => (neg ?x))\n")
    refused = frittata("compile", str(model), "--rules", str(tmp_path / "bad.rules"), "-q", check=False)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith("frittata: error: rule bad-relu-neg (") and "counterexample" in refused.stderr
    trusted = frittata("compile", str(model), "--rules", str(tmp_path / "bad.rules"), "--no-check-rules",
                       "--report", "-q")
    assert "fired bad-relu-neg" in trusted.stdout and "check-rules" not in trusted.stdout


def test_compile_emits_a_shared_library_and_its_header(compiled, tmp_path):
    folder, program, _ = compiled
    frittata("-q", "compile", str(folder / "mlp.onnx"), "--emit", "so", "-o", str(tmp_path / "lib" / "mlp.so"))
    frittata("-q", "compile", str(folder / "mlp.onnx"), "--emit", "c-header", "-o", str(tmp_path / "api.h"))
    assert (tmp_path / "api.h").read_text() == (tmp_path / "lib" / "frittata_model.h").read_text()
    lib = ctypes.CDLL(str(tmp_path / "lib" / "mlp.so"))
    assert (lib.frittata_model_num_inputs(), lib.frittata_model_num_outputs()) == (1, 1)
