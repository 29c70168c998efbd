"""The CPU price of bit-serial contractions: host-dependent popcount and int8 peaks, the register
block's efficiency, and bit-serial workloads as tuning tasks (their space, a measured candidate)."""

from __future__ import annotations

import numpy as np

from frittata import terms as T
from frittata.extract import CpuModel, NodeInfo
from frittata.extract.bitserial_cost import tile_efficiency
from frittata.extract.records import workload_of
from frittata.backends.jit import Machine, host
from frittata.backends.llvm import build
from frittata.terms.bitserial_schedules import (bitserial_registers, bitserial_schedule, bitserial_tile_registers,
                                                bitserial_weight_bytes, uses_tables)
from frittata.terms.cpu_geometry import L1_DATA_BYTES, registers_for
from frittata.tuning.model import named_features
from tests.backends.llvm.helpers import AVX2_FEATURES
from frittata.tuning.measure import Job, reference_output, run_job
from frittata.tuning.tasks import generated_space

TRIPLE = "x86_64-unknown-linux-gnu"
AVX2 = "+avx,+avx2,+fma,+popcnt"
AVX512 = AVX2 + ",+avx512f,+avx512bw,+avx512dq,+avx512vl"


def _conv(schedule=(), out_channels: int = 64, bits: int = 1, channels: int = 128) -> T.Term:
    x = T.bitpack(T.var("x", (1, channels, 14, 14), "int8"), bits, 1)
    w = T.param("w", np.zeros((out_channels, 3, 3, 1, channels // 64), np.int64))
    return T.bitserial_conv2d(x, w, 1, 1, encoding="bipolar", schedule=schedule)


def _info(term: T.Term) -> NodeInfo:
    return NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args), False, (False, True))


def test_the_int8_and_popcount_peaks_follow_the_host_features():
    avx2 = CpuModel.for_machine(TRIPLE, AVX2)
    vnni = CpuModel.for_machine(TRIPLE, AVX512 + ",+avx512vnni")
    popcnt = CpuModel.for_machine(TRIPLE, AVX512 + ",+avx512vpopcntdq")
    sse = CpuModel.for_machine(TRIPLE, "+sse4.2,+popcnt")
    assert avx2.vector_lanes == 8 and avx2.int8_ops_per_core == 2 * avx2.fp32_flops_per_core
    assert vnni.int8_ops_per_core > 3.5 * vnni.fp32_flops_per_core
    assert popcnt.word_pairs_per_core > avx2.word_pairs_per_core > sse.word_pairs_per_core
    assert CpuModel.for_machine(TRIPLE, AVX512).word_pairs_per_core < popcnt.word_pairs_per_core


def test_a_narrow_or_spilling_register_block_costs_more_than_the_default():
    model = CpuModel.for_machine(TRIPLE, AVX2)
    default = model.node_cost(_info(_conv()))
    narrow = model.node_cost(_info(_conv((("pixels", 4), ("blocks", 1)))))
    spilling = model.node_cost(_info(_conv((("pixels", 4), ("blocks", 8)))))
    assert default < narrow and default < spilling
    assert bitserial_registers(1, 1, 4, 8) > 16 > bitserial_registers(1, 1, 1, 8)
    w = _conv().args[1].type
    assert tile_efficiency(w, 1, 1, 8, True, 8) > tile_efficiency(w, 1, 1, 2, True, 8)
    # the popcount kernel too: more blocks share each activation vector's load
    assert 1.0 == tile_efficiency(w, 1, 1, 8, False, 8) > tile_efficiency(w, 1, 1, 2, False, 8)


def test_a_bitserial_workload_is_a_tuning_task_whose_candidates_run_exactly():
    """A tiled A1W1 conv on AVX2 (the nibble kernel; untiled, it runs the table kernel)."""
    found = workload_of(_info(_conv((("pixels", 1), ("blocks", 8)))), 8)
    assert found is not None
    workload, default = found
    assert workload.op == "bitserial_conv2d" and dict(default) == {"pixels": 1, "blocks": 8}
    space = generated_space(workload, 8)
    assert default in space and all(bitserial_registers(1, 1, s[0][1], s[1][1]) <= 16 for s in space)
    assert {s[0][1] for s in space} == {1, 2, 3, 4}
    assert max(s[1][1] for s in space) == 10  # 10 counters, 2 split nibbles, table, mask, temporary: 15 of 16
    result = run_job(Job(workload, space[-1], 1, reference_output(workload, 0), repeat=2, warmup=1))
    assert result.error is None and result.seconds > 0


def test_an_untiled_table_kernel_conv_is_not_a_task_its_tiled_forms_are():
    """AVX2 runs a 2-bit-activation, 1-bit-weight conv with the default schedule on the table
    kernel, and any explicit schedule on the nibble kernel: a measured "default" candidate would
    time the nibble kernel and price the table kernel with it, so the untiled node is no task."""
    plain, tiled = _conv(bits=2), _conv((("pixels", 1), ("blocks", 8)), bits=2)
    assert uses_tables(plain.op, plain.attrs, plain.args[0].type, plain.args[1].type, True, 8)
    assert workload_of(_info(plain), 8) is None
    assert workload_of(_info(tiled), 8) is not None and workload_of(_info(plain), 16) is not None


def test_the_learned_model_counts_a_tiles_registers_as_the_kernels_do():
    """Two activation planes on `llvm.ctpop` (AVX-512): a splat word per plane, so the count
    differs from the 1-bit one; the model's register feature reads the kernels' count."""
    model = CpuModel.for_machine(TRIPLE, AVX512 + ",+avx512vpopcntdq")
    found = workload_of(_info(_conv(bits=2)), 16)
    assert found is not None
    workload, schedule = found
    s = dict(schedule)
    needed = bitserial_tile_registers(2, 1, s["pixels"], s["blocks"], False)
    assert needed == s["pixels"] * s["blocks"] + 4
    assert named_features(workload, schedule, 16, 2, model)["register_share"] == needed / registers_for(16)


def test_a_one_plane_tile_keeps_its_weights_within_the_l1_cache():
    """512 input channels (8 words a tap): 8 blocks would read 36 KiB of weights per pixel, so
    the AVX2 default takes 7 (31.5 KiB) and the cost model prices 6 below 8; two activation
    planes keep 8."""
    model = CpuModel.for_machine(TRIPLE, AVX2)
    one, two = _conv(channels=512), _conv(channels=512, bits=2)
    w = one.args[1].type
    assert bitserial_weight_bytes(w, 8, 8, True) > L1_DATA_BYTES >= bitserial_weight_bytes(w, 7, 8, True)
    assert bitserial_schedule(one.op, one.attrs, one.args[0].type, w, True, 8)["blocks"] == 7
    assert bitserial_schedule(two.op, two.attrs, two.args[0].type, w, True, 8)["blocks"] == 8
    six, eight = ((("pixels", 1), ("blocks", m)) for m in (6, 8))
    one_six, one_eight = (_conv(s, 512, channels=512) for s in (six, eight))
    assert model.node_cost(_info(one_six)) < model.node_cost(_info(one_eight))
    two_six, two_eight = (_conv(s, 512, bits=2, channels=512) for s in (six, eight))
    assert model.node_cost(_info(two_eight)) < model.node_cost(_info(two_six))


def test_the_l1_limited_default_tile_runs_exactly(rng):
    x = rng.integers(0, 2, (1, 512, 5, 6)).astype(np.int8)
    codes = rng.integers(0, 2, (30, 512, 3, 3)).astype(np.int8)
    w = T.param("w", T.evaluate(T.bitpack(T.var("c", codes.shape, "int8"), 1, 1), {"c": codes}))
    program = T.Program({"y": T.bitserial_conv2d(T.bitpack(T.var("x", x.shape, "int8"), 1, 1), w, 1, 1,
                                                 encoding="bipolar")})
    got = build(program, threads=2, target=Machine(host().triple, "znver3", AVX2_FEATURES)).run(x=x)["y"]
    np.testing.assert_array_equal(got, T.evaluate(program, {"x": x})["y"])


def test_two_activation_planes_on_the_table_kernel_cost_one_planes_lookups():
    """AVX2 runs a default-schedule A2W1 convolution on the table kernel (one lookup counts both
    planes): priced below the nibble kernel's two planes, above one plane's."""
    model = CpuModel.for_machine(TRIPLE, AVX2)
    tables = model.node_cost(_info(_conv(bits=2, out_channels=128)))
    nibbles = model.node_cost(_info(_conv((("pixels", 1), ("blocks", 8)), bits=2, out_channels=128)))
    one_plane = model.node_cost(_info(_conv(bits=1, out_channels=128)))
    assert one_plane < tables < nibbles
