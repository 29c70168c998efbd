"""Pin a test to an 8-lane (AVX2) host, whatever this one is: the tests whose expected choice is
the cost model's at 8 fp32 lanes (a Winograd default, a measured schedule beating the model's)
would pick otherwise on an AVX-512 host, which CI may be.

`eight_lanes()` gives the host's own features string 8 lanes in the kernel choice, the cost
model and the tuning device (as `sixteen_lane_host` gives it 16); every other machine keeps its
lanes. The host's kernels are then the AVX2 variant, which runs on any AVX2 or AVX-512 host. Code
run in another process (a tuning pool's workers) is not patched: pinned tests measure in process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from llvmlite import binding as llvm

import frittata.backends.jit as jit
import frittata.extract.cpu_model as cpu_model
import frittata.extract.schedule_cost as schedule_cost
import frittata.terms.cpu_geometry as geometry

MODULES = (geometry, jit, cpu_model, schedule_cost)
"""The modules that read `vector_lanes` by name (`sixteen_lane_host` patches the same)."""


def host_features() -> str:
    """This host's own features string, the one a posing `vector_lanes` answers for."""
    llvm.initialize_native_target()
    return llvm.get_host_cpu_features().flatten()


@contextmanager
def eight_lanes() -> Iterator[None]:
    """The host poses as an 8-lane one inside the block (see the module docstring)."""
    here = host_features()
    lanes_of = geometry.vector_lanes  # the real one, or a plugin's stand-in

    def vector_lanes(triple: str, features: str) -> int:
        lanes = lanes_of(triple, features)
        return 8 if lanes == 16 and features == here else lanes

    with pytest.MonkeyPatch.context() as patch:
        for module in MODULES:
            patch.setattr(module, "vector_lanes", vector_lanes)
        assert jit.host().lanes == 8 and cpu_model.CpuModel.for_host().vector_lanes == 8
        yield
