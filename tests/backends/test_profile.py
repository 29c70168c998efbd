"""`module.profile`: measured time per kernel for llvm and vta modules, the table it returns, and
the measured times drawn on the program graph."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

import frittata as ft
from frittata.backends import fileformat
from frittata.backends.peak import host_peak
from frittata.backends.registry import get_target
from frittata.backends.runtime import Module
from frittata.backends.vta.cost import VtaCostModel
from frittata.errors import ModuleFormatError, RuntimeInputError
from frittata.extract.cost import term_infos
from frittata.extract.show import program_dot
from frittata.terms import zoo
from frittata.terms.ops import Op


@pytest.fixture(scope="module")
def transformer():
    """A zoo model whose run (several ms) is long beside the Python dispatch around it."""
    program = zoo.get("transformer_block")
    module = ft.compile(program)
    inputs = zoo.example_input(program)
    return module, inputs, module.profile(inputs, repeat=5)


def test_kernel_times_add_up_to_each_whole_run(transformer):
    """Each profiled run's kernels account for most of its wall time (the rest is the Python
    dispatch around the native call, about 0.15 ms of this 2 ms run: 0.90-0.93 measured on a
    quiet AMD EPYC, 0.84 once on a loaded CI machine, hence the 0.75 floor); the profile's whole
    run is timed through the plain entry point in the same loop."""
    _, _, profile = transformer
    assert 0.75 <= profile.accounted <= 1.0
    assert profile.run_seconds > 0 and profile.kernel_seconds > 0
    assert sum(r.share for r in profile.rows) == pytest.approx(profile.kernel_seconds / profile.run_seconds)


def test_rows_are_the_kernels_in_program_order_with_work_and_model(transformer):
    module, _, profile = transformer
    kernels = module.report["backend"]["kernels"]
    assert [r.kernel for r in profile.rows] == ["(threads start)"] + kernels
    rows = profile.rows[1:]
    assert all(r.model is not None and r.model > 0 for r in rows if r.op not in ("reshape", "copy"))
    contractions = [r for r in rows if r.op in ("fused_dense", "dense", "matmul", "tiled_dense")]
    assert contractions and all(r.flops > 0 and r.bytes > 0 for r in contractions)
    terms = module.program.terms()
    assert [r.term for r in rows] == [None if s["term"] is None else terms[s["term"]] for s in module.steps]
    assert all(r.term is not None and r.term.op.value == r.op for r in rows if r.op != "copy")
    assert profile.top(3) == sorted(profile.rows, key=lambda r: -r.seconds)[:3]


def test_speed_is_read_on_the_roofline(transformer):
    _, _, profile = transformer
    peak = profile.peak
    assert peak.flops > 1e9 and peak.bandwidth > 1e8 and peak == host_peak(peak.threads)
    for row in profile.rows[1:]:
        if row.seconds == 0:
            continue
        if row.flops / max(row.bytes, 1.0) > peak.ridge:
            assert row.bound == "compute" and row.of_peak == pytest.approx(row.flops / row.seconds / peak.flops)
        else:
            assert row.bound == "memory" and row.of_peak == pytest.approx(row.bytes / row.seconds / peak.bandwidth)


def test_table_prints_and_exports(transformer, tmp_path):
    _, _, profile = transformer
    text = str(profile)
    assert "profile: llvm" in text and "GFLOP/s" in text and profile.peak.cpu in text
    assert all(r.kernel[:28] in text for r in profile.rows)
    data = profile.to_dict()
    assert data["repeat"] == 5 and len(data["rows"]) == len(profile.rows)
    assert data["rows"][1]["ms"] == pytest.approx(profile.rows[1].seconds * 1e3)
    written = profile.to_csv(tmp_path / "profile.csv")
    assert (tmp_path / "profile.csv").read_text() == written
    rows = list(csv.DictReader(io.StringIO(written)))
    assert [r["kernel"] for r in rows] == [r.kernel for r in profile.rows]
    assert float(rows[1]["ms"]) == pytest.approx(profile.rows[1].seconds * 1e3)


def test_show_draws_measured_times_beside_modelled_ones(transformer):
    module, _, profile = transformer
    dot = program_dot(module.program, target="llvm", cost_model=get_target("llvm").cost_model(),
                      measured=profile.measured())
    drawn = {id(r.term) for r in profile.rows if r.term is not None}
    assert dot.count("measured ") == len(drawn) and "model " in dot


def test_a_loaded_module_profiles_from_its_saved_step_table(tmp_path):
    program = zoo.get("mlp")
    module = ft.compile(program)
    module.save(tmp_path / "mlp.ftm")
    loaded = ft.load(tmp_path / "mlp.ftm")
    profile = loaded.profile(zoo.example_input(program), repeat=2)
    assert [r.kernel for r in profile.rows[1:]] == module.report["backend"]["kernels"]
    assert all(r.term is None for r in profile.rows)
    assert [r.model for r in profile.rows[1:]] == [s["model_s"] for s in module.steps]


def test_a_module_saved_without_the_step_table_says_so(tmp_path):
    program = zoo.get("mlp")
    ft.compile(program).save(tmp_path / "mlp.ftm")
    saved = fileformat.decode(fileformat.read_aligned(tmp_path / "mlp.ftm"), "mlp.ftm")
    meta = {k: v for k, v in saved.meta.items() if k != "steps"}
    old = Module(fileformat.Saved(meta, saved.sections, saved.params))
    with pytest.raises(ModuleFormatError, match="compile it again"):
        old.profile(zoo.example_input(program), repeat=1)
    with pytest.raises(RuntimeInputError, match="repeat >= 1"):
        ft.load(tmp_path / "mlp.ftm").profile(zoo.example_input(program), repeat=0)


@pytest.fixture(scope="module")
def vta_mlp():
    rng = np.random.default_rng(0)
    program = zoo.mlp()
    samples = [{"x": rng.standard_normal((1, 784)).astype(np.float32)} for _ in range(4)]
    quantized = ft.quantize(program, samples)
    return quantized, ft.compile(quantized, target="vta"), samples[0]


def test_vta_rows_are_the_simulators_counters(vta_mlp):
    program, module, x = vta_mlp
    profile = module.profile(x, repeat=2)
    module.run(**x)
    calls = [r for r in profile.rows if r.vta is not None]
    assert [r.kernel for r in calls] == [f"vta{i}" for i in range(len(module.last_reports))] and calls
    cfg = module.cfg
    for row, report in zip(calls, module.last_reports):
        loaded = report.bytes_loaded
        assert row.vta.cycles == report.cycles
        assert row.vta.gemm_utilization == report.gemm_utilization == row.of_peak
        assert dict(row.vta.moved) == {
            "load": loaded.get("INP", 0) + loaded.get("WGT", 0),
            "compute": loaded.get("ACC", 0) + report.uops_loaded * cfg.uop_elem_bytes,
            "store": report.bytes_stored}
        assert row.flops == 2 * report.gemm_uops * cfg.batch * cfg.block_in * cfg.block_out
        assert row.vta.seconds == pytest.approx(report.cycles / VtaCostModel().cfg.clock_hz)
    infos = {id(t): info for t, info in term_infos(module.program)}
    assert [r.model for r in calls] == [VtaCostModel().node_cost(infos[id(r.term)]) for r in calls]
    assert all(r.term.op in (Op.VTA_DENSE, Op.VTA_CONV2D) for r in calls)
    host = [r for r in profile.rows if r.vta is None]
    assert host and all(r.kernel.startswith(("vta", "out/")) for r in host)
    assert "cycles" in str(profile) and "cycles" in profile.to_csv().splitlines()[0]


def test_a_loaded_vta_module_keeps_its_calls_models(vta_mlp, tmp_path):
    _, module, x = vta_mlp
    module.save(tmp_path / "vta.ftm")
    profile = ft.load(tmp_path / "vta.ftm").profile(x, repeat=1)
    calls = [r for r in profile.rows if r.vta is not None]
    assert [(r.op, r.model) for r in calls] == [(f["op"], f["model_s"]) for f in module.call_facts]
    assert all(isinstance(f["term"], int) for f in module.call_facts)
    assert all(r.term is None for r in calls)
