"""`frittata compile --profile` and `frittata run --profile`: the measured time of each kernel."""

import numpy as np

from frittata.cli import main
from frittata.terms import zoo


def test_compile_profile_prints_the_table_and_show_draws_measured_times(tmp_path, capsys):
    module = tmp_path / "mlp.ftm"
    code = main(["-q", "compile", "zoo:mlp", "--profile", "--repeat", "2", "-o", str(module),
                 "--show", str(tmp_path / "mlp.dot")])
    out = capsys.readouterr().out
    assert code == 0 and "profile: llvm" in out and "k0_fused_dense" in out and "model ms" in out
    assert "measured " in (tmp_path / "mlp.dot").read_text()

    x = tmp_path / "x.npy"
    np.save(x, zoo.example_input(zoo.get("mlp"))["x"])
    code = main(["run", str(module), "--input", f"x={x}", "--profile", "--repeat", "3"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("y: float32[1, 10]")
    assert "median of 3 runs" in out and "k0_fused_dense" in out


def test_profile_repeat_must_be_positive(capsys):
    assert main(["compile", "zoo:mlp", "--profile", "--repeat", "0"]) == 2
    assert "expected a positive integer" in capsys.readouterr().err
