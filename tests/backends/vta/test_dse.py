"""The design-space explorer: designs that cannot fit are never compiled, the search stops and
says why, the Pareto set is non-dominated, the timing-only cycle model is the simulator's, and
the pool, the files and the command line work."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import frittata as ft
from frittata.backends.vta.dse.evaluate import DesignResult, layer_term, time_layer
from frittata.backends.vta.dse.explore import explore, pareto_front
from frittata.backends.vta.dse.space import DesignSpace, design_for
from frittata.backends.vta.dse.workload import Workload
from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.hw.resources import get_part, overflows
from frittata.backends.vta.hw.simulator import Simulator
from frittata.backends.vta.lower import emit_vta_term
from frittata.terms import builders as tb

SPACE = DesignSpace(log_batch=(0, 1), log_block=(3, 4, 5), log_inp_buff_size=(15,), log_wgt_buff_size=(17, 18),
                    log_acc_buff_size=(17,), log_bus_width=(6, 7), gemm_stages=(1, 3))


@pytest.fixture(scope="module")
def workload() -> Workload:
    rng = np.random.default_rng(0)
    x = tb.var("x", (1, 32, 14, 14))
    y = tb.relu(tb.conv2d(x, tb.param("w", rng.standard_normal((64, 32, 3, 3)).astype(np.float32)), pads=1))
    y = tb.global_avg_pool(tb.conv2d(y, tb.param("v", rng.standard_normal((64, 64, 3, 3)).astype(np.float32)),
                                     strides=2, pads=1))
    z = tb.dense(tb.reshape(y, (1, 64)), tb.param("d", rng.standard_normal((10, 64)).astype(np.float32)))
    return Workload.from_program(ft.Program({"z": z}), "small")


@pytest.fixture(scope="module")
def found(workload, tmp_path_factory):
    return explore(SPACE, workload, "pynq-z1", budget=100, workers=0, quiet=True,
                   out=tmp_path_factory.mktemp("dse"))


def test_the_workload_lists_each_contraction_shape_once(workload):
    assert [(layer.kind, layer.c, layer.o, layer.count) for layer in workload.layers] == [
        ("conv2d", 32, 64, 1), ("conv2d", 64, 64, 1), ("dense", 64, 10, 1)]
    assert workload.macs == 32 * 64 * 9 * 14 * 14 + 64 * 64 * 9 * 7 * 7 + 64 * 10


def test_designs_that_cannot_fit_are_never_compiled_and_the_search_says_why_it_stopped(found):
    part = get_part("pynq-z1")
    assert found.rejected["LUT"] > 0 and found.scanned == SPACE.size
    assert all(not overflows(VtaConfig(**_fields(r)), part) for r in found.results)
    fitting = sum(isinstance(design_for(p, part), VtaConfig) for p in SPACE.points())
    assert found.stop.startswith("space exhausted") and len(found.results) == fitting
    assert len({r.design for r in found.results}) == len(found.results)


def test_the_pareto_set_is_non_dominated_and_dominates_the_rest(found):
    front = found.pareto
    assert front and found.best in front

    def dominates(a: DesignResult, b: DesignResult) -> bool:
        return a.latency_s <= b.latency_s and a.area <= b.area and (a.latency_s, a.area) != (b.latency_s, b.area)

    assert not any(dominates(other, r) for r in front for other in found.results)
    assert all(any(dominates(r, other) or (r.latency_s, r.area) == (other.latency_s, other.area) for r in front)
               for other in found.results)
    assert pareto_front(list(reversed(found.results))) == front


def test_the_files_hold_one_line_per_design_and_the_plots(found, tmp_path):
    from frittata.backends.vta.dse.explore import write

    write(found, tmp_path)
    lines = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(lines) == len(found.results) and sum(line["baseline"] for line in lines) == 1
    assert {"config", "resources", "clock_mhz", "cycles", "latency_ms", "gops", "utilization"} <= set(lines[0])
    assert sum(line["pareto"] for line in lines) == len(found.pareto)
    assert (tmp_path / "pareto.png").stat().st_size > 10_000 and (tmp_path / "pareto.svg").exists()
    assert "speedup" in (tmp_path / "summary.txt").read_text()


def test_budget_and_time_limit_stop_the_search_on_the_process_pool(workload):
    by_budget = explore(SPACE, workload, "pynq-z1", budget=3, workers=2, quiet=True)
    assert by_budget.stop == "budget reached: 3 designs evaluated" and len(by_budget.results) == 3
    by_time = explore(SPACE, workload, "pynq-z1", budget=50, workers=0, time_limit=0.0, quiet=True)
    assert by_time.stop == "time limit: 0 s" and len(by_time.results) < 50


def test_the_timing_only_cycles_are_the_functional_simulators(workload, rng):
    cfg = VtaConfig(log_block=3, log_inp_buff_size=13, log_wgt_buff_size=16, log_acc_buff_size=15, gemm_stages=2,
                    log_bus_width=7)
    layer = workload.layers[1]
    (timed,) = time_layer(layer, [cfg])
    node = layer_term(layer, cfg)
    args = [rng.integers(-8, 8, a.shape).astype(a.dtype) for a in node.args]
    sim = Simulator(cfg, Dram())
    lowered = emit_vta_term(node, args, cfg, sim.machine.dram, timed.threads)
    assert sim.run(lowered.program.image()).cycles == timed.cycles


def test_the_command_line_explores_a_zoo_model(tmp_path):
    done = subprocess.run([sys.executable, "-m", "frittata", "vta", "explore", "--model", "mlp", "--part", "ultra96",
                           "--budget", "3", "--workers", "0", "-o", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "explored 3 designs" in done.stdout and "budget reached" in done.stdout
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 3
    failed = subprocess.run([sys.executable, "-m", "frittata", "vta", "explore", "--part", "vu9p", "-o", str(tmp_path)],
                            capture_output=True, text=True, timeout=600)
    assert failed.returncode == 2 and "expected one of" in failed.stderr


def _fields(result: DesignResult) -> dict:
    from frittata.backends.vta.hw.config_file import config_from_dict

    cfg = config_from_dict(result.config)
    return {name: getattr(cfg, name) for name in cfg.__dataclass_fields__}


def test_designs_of_one_architecture_evaluate_together_as_alone(workload):
    from frittata.backends.vta.dse.evaluate import evaluate_design, evaluate_designs

    part = get_part("pynq-z1")
    group = [VtaConfig(clock_mhz=100), VtaConfig(clock_mhz=150, gemm_stages=2, log_bus_width=7)]
    together = evaluate_designs(group, workload, part)
    for cfg, result in zip(group, together):
        assert isinstance(result, DesignResult)
        assert result.layers == evaluate_design(cfg, workload, part).layers


@pytest.mark.xdist_group("ray")  # one local Ray cluster at a time under pytest-xdist
def test_a_local_ray_run_finds_what_this_process_finds(workload):
    pytest.importorskip("ray")
    space = DesignSpace(log_batch=(0,), log_block=(4,), log_inp_buff_size=(15,), log_wgt_buff_size=(17, 18),
                        log_acc_buff_size=(17,), log_bus_width=(6,), gemm_stages=(1, 2))
    here = explore(space, workload, "pynq-z1", budget=10, workers=0, quiet=True)
    fleet = explore(space, workload, "pynq-z1", budget=10, workers=2, runner="ray", quiet=True)
    assert fleet.stop == here.stop and [r.record()["cycles"] for r in fleet.results] == [
        r.record()["cycles"] for r in here.results]


def test_tuning_a_design_searches_its_vta_convs_and_never_slows_it(workload, found):
    """The best design's conv layers on VTA are searched (2 tilings per thread count here); each
    search's best is no slower than the explorer's schedule, and the tuned latency no longer."""
    best = found.best
    tuned = ft.vta.tune_design(best, workload, budget=2)
    on_vta = {k for k, t in best.layers.items() if t.on == "vta" and k in
              {layer.name for layer in workload.layers if layer.kind == "conv2d"}}
    assert set(tuned.searches) == on_vta and on_vta
    for name, search in tuned.searches.items():
        assert search.best.cycles <= best.layers[name].cycles and search.tried <= 4
    assert tuned.latency_s <= best.latency_s and tuned.design == best.design
