"""The thread count a module gets when none is named: the CPUs that add FMA throughput."""

from __future__ import annotations

import os

import numpy as np
import pytest

import frittata as ft
from frittata import terms as T
from frittata.backends import peak
from frittata.backends.llvm import build
from frittata.tuning import host_device


@pytest.mark.parametrize("cpus, peaks, expected", [
    (2, {1: 101.4e9, 2: 97.0e9}, 1),      # two SMT siblings of one core (the 2-vCPU EPYC measured)
    (2, {1: 100e9, 2: 196e9}, 2),         # two cores
    (4, {1: 100e9, 4: 310e9}, 3),         # four CPUs, three cores' worth of FMA units
    (8, {1: 100e9, 8: 20e9}, 1),          # a measurement on a busy machine never gives 0
    (1, {}, 1),
])
def test_default_threads_counts_the_cpus_that_add_fma_throughput(monkeypatch, cpus, peaks, expected):
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    monkeypatch.setattr(peak, "fma_flops", lambda threads: peaks[threads])
    peak.default_threads.cache_clear()
    try:
        assert peak.default_threads() == expected
    finally:
        peak.default_threads.cache_clear()


def test_build_and_the_tuner_default_to_it():
    threads = peak.default_threads()
    assert 1 <= threads <= (os.cpu_count() or 1)
    program = ft.Program({"y": T.relu(T.var("x", (4096,)))})
    module = build(program)
    assert module.threads == threads
    x = np.linspace(-1, 1, 4096, dtype=np.float32)
    np.testing.assert_array_equal(module.run(x=x)["y"], np.maximum(x, 0))
    assert host_device().threads == threads
