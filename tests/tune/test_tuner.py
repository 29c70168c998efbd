"""`tune` end to end on one small convolution: records logged, resume skips what was measured,
and a compile with the records runs the measured-best kernel correctly."""

from __future__ import annotations

import numpy as np

import frittata as ft
from frittata.extract.records import Records
from frittata.tune import LocalRunner, tune
from tests.tune.programs import conv_program


def test_tune_logs_records_resumes_without_remeasuring_and_compiles_with_them(tmp_path):
    path = tmp_path / "conv.jsonl"
    program = conv_program()
    seen = []
    with LocalRunner() as runner:
        first = tune(program, trials=4, records=path, batch=2, threads=1, search="random", runner=runner,
                     progress=lambda task, done, budget: seen.append((done, budget)))
        assert first.trials == 4 and len(Records.load(path)) == 4
        assert seen[-1] == (4, 4) and [done for done, _ in seen] == sorted(done for done, _ in seen)
        assert first.stop in ("trial budget spent (4)", "every task stopped")
        second = tune(program, trials=3, records=path, batch=3, threads=1, search="learned", runner=runner)
    log = Records.load(path)
    tried = [(r.workload.key, r.schedule) for r in log]
    assert len(log) == 7 and len(set(tried)) == 7  # nothing measured twice
    assert second.tasks[0].resumed == first.tasks[0].trials
    assert all(r.ok for r in log), [r.error for r in log if not r.ok]
    module = ft.compile(program, threads=1, records=path)
    rows = module.report["stages"]["extract"]["kernels"]
    assert rows and rows[0]["priced_by"] == "measured"
    x = np.random.default_rng(2).standard_normal((1, 16, 12, 12)).astype(np.float32)
    np.testing.assert_allclose(module.run(x=x)["y"], ft.evaluate(program, {"x": x})["y"], rtol=1e-4, atol=1e-4)
