"""A pytest plugin that makes an AVX2 host pose as a 16-lane (AVX-512) one, to find the tests
whose expectations hold for one ISA only before a session meets the other machine:

    python -m pytest -p tests.sixteen_lane_host -n 0 tests/...

The host's own features string gets 16 fp32 lanes from `vector_lanes` (in the kernel choice,
the cost model and the tuning device), every other machine keeps its lanes; the host's kernels
are then the AVX-512 variant, which LLVM legalizes into pairs of ymm, so they run here. Code
run in another process (a tuning pool's workers, a second compiling process) is not patched."""

from __future__ import annotations

import pytest

import frittata.backends.jit as jit
import frittata.extract.cpu_model as cpu_model
import frittata.terms.cpu_geometry as geometry
from tests.eight_lane_host import MODULES, host_features

_LANES = geometry.vector_lanes


def vector_lanes(triple: str, features: str) -> int:
    """`cpu_geometry.vector_lanes`, but 16 for this host's own 8-lane features string."""
    lanes = _LANES(triple, features)
    return 16 if lanes == 8 and features == host_features() else lanes


def pytest_configure(config: pytest.Config) -> None:
    for module in MODULES:
        module.vector_lanes = vector_lanes  # type: ignore[attr-defined]
    assert jit.host().lanes == 16 and cpu_model.CpuModel.for_host().vector_lanes == 16
