"""The schedule cost model: a register block that spills, a strided
convolution's tile input in L1 and its pad pass, a GEMM's items, the balance of channel blocks,
the cost of a short reduction block, the channel GEMM against the direct kernel, and the
channels-in-lanes kernel's choice at 14x14."""

import math

import numpy as np
import pytest

import frittata as ft
from frittata import terms as T
from frittata.extract import CpuModel, NodeInfo, extract
from frittata.extract.schedule_cost import (C_BLOCK_STEPS, taken_balance, block_efficiency, blocked_compute_seconds,
                                           phase_split_seconds, schedule_efficiency)
from frittata.terms import cpu_schedules
from frittata.terms.cpu_geometry import gemm_item_sizes, gemm_items
from frittata.terms.cpu_schedules import (CHANNEL_GEMM, blocked_schedule, default_conv_schedule,
                                          default_dense_schedule, kernel_of, takes_channel_gemm)
from frittata.rewrites import fold_params, saturate
from tests.backends.llvm.helpers import AVX2_FEATURES, AVX512_FEATURES


@pytest.mark.parametrize("lanes, registers", [(8, 16), (16, 32)])
def test_a_register_block_spills_one_register_past_the_register_file(lanes, registers):
    """AVX2 has 16 vector registers, AVX-512 32. A block of R rows by one vector needs R + 2 (R
    accumulators, the row's input vector, the broadcast) and issues R FMAs a step on 2 FMA ports
    against R + 1 loads on 2 load ports (AVX2) or 1 (AVX-512 folds the broadcasts into the FMAs):
    a block of R = registers - 2 fits and runs at that ratio; one more row spills, priced
    (registers / needed)^2 below it."""
    def ratio(rows: int) -> float:
        loads = rows + 1 if lanes == 8 else 1
        return (rows / 2) / max(rows / 2, loads / 2, 4)

    fits, spills = registers - 2, registers - 1
    assert block_efficiency(fits, 1, lanes, lanes) == pytest.approx(ratio(fits))
    spilled = ratio(spills) * (registers / (registers + 1)) ** 2
    assert block_efficiency(spills, 1, lanes, lanes) == pytest.approx(spilled)


def test_a_strided_tile_input_kept_in_l1_is_priced_faster():
    """ResNet-50's 3x3 stride-2 128 -> 128 at 56x56: its default (pixel items, 28-channel blocks
    whose tile rows fit L1) costs less than blocks of 75 channels split either way (the pad
    pass, the same for every schedule, left out); at stride 1 the channel block changes nothing
    of the kind."""
    model = CpuModel(vector_lanes=8)
    for stride, size in ((2, 56), (1, 28)):
        x = T.var("x", (1, 128, size, size))
        term = T.conv2d(x, T.param("w", np.zeros((128, 128, 3, 3), np.float32)), strides=(stride, stride),
                        pads=(1, 1, 1, 1))
        info = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))
        flops = 2 * 128 * 128 * 9 * 28 * 28
        default = default_conv_schedule(x.type, term.args[1].type, term.type, dict(term.attrs), 8)
        pad = phase_split_seconds(info, model)
        seconds = {parallel: blocked_compute_seconds(info, default | {"c_block": 75, "c_tail": 128 % 75,
                                                                      "parallel": parallel}, flops, model) - pad
                   for parallel in ("oc", "pixel")}
        if stride == 2:
            assert (default["parallel"], default["c_block"]) == ("pixel", 28)
            assert blocked_compute_seconds(info, default, flops, model) - pad < min(seconds.values()) * 0.85
        else:
            assert default["c_block"] == 75


def test_a_tall_gemm_of_few_panels_is_priced_by_its_items_not_its_panels():
    """[1024, 64] x [64, 48] on two cores: 3 panels of 16 would leave a core idle a third of the
    time, but the kernel's threads take 4 row groups x 3 panels (12 items of 2 or 3 row blocks),
    so the model prices it per column within 5% of the same GEMM with 4 panels (a third more
    when it counted the panels)."""
    model = CpuModel(vector_lanes=8, cores=2)

    def seconds(n: int) -> float:
        term = T.dense(T.var("x", (1024, 64)), T.param("w", np.zeros((n, 64), np.float32)))
        info = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))
        s = default_dense_schedule(1024, n, 64, 8)
        return blocked_compute_seconds(info, s, 2 * 1024 * 64 * n, model) / n

    assert gemm_items(1024, 3, 6) == (4, 3)
    assert seconds(48) < seconds(64) * 1.05


TARGETS = {"avx2": f"llvm -mcpu=znver3 -mattr={AVX2_FEATURES}",
           "avx512": f"llvm -mcpu=skylake-avx512 -mattr={AVX512_FEATURES}"}


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_a_strided_1x1_convolution_is_priced_with_its_pad_pass_above_slice_and_pointwise(isa):
    """RegNetY's 32 -> 48 1x1 stride-2 projection at 112x112: the direct kernel copies the whole
    input into 4 stride phases and reads one; extraction with the llvm rules picks the slice and
    the pointwise convolution (1.3-2.6x faster on one Zen 3 core) for either ISA (forced through
    the target string), and a stride-1 convolution pays no pad pass in the model."""
    rng = np.random.default_rng(0)
    w = T.param("w", rng.standard_normal((48, 32, 1, 1)).astype(np.float32))
    b = T.param("b", rng.standard_normal(48).astype(np.float32))
    x = T.var("x", (1, 32, 112, 112))
    term = T.fused_conv2d(x, w, b, strides=(2, 2))
    info = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))
    assert phase_split_seconds(info, CpuModel(vector_lanes=8)) > 0
    flat = T.fused_conv2d(x, w, b)
    assert phase_split_seconds(NodeInfo(flat.op, flat.attrs, flat.type, tuple(a.type for a in flat.args)),
                               CpuModel(vector_lanes=8)) == 0
    compiled = ft.compile(ft.Program({"y": term}), target=TARGETS[isa], threads=1)
    y = compiled.program.outputs["y"]
    assert (y.op.value, y.args[0].op.value) == ("fused_conv2d", "slice")


def test_a_batched_matmul_is_priced_per_batch_item_as_its_kernel_runs_it():
    """Attention's [12, 64, 64] x [12, 64, 48] on two cores: the kernel runs one GEMM per batch
    item (gemm_items of 64 rows: 1 row group x 3 panels, one core idle a third of the time),
    so the model prices it as 12 of the single item's GEMM, not as one GEMM of 768 rows (4 x 3
    items, balanced)."""
    model = CpuModel(vector_lanes=8, cores=2)

    def seconds(batch: tuple[int, ...]) -> float:
        term = T.matmul(T.var("a", (*batch, 64, 64)), T.var("b", (*batch, 64, 48)))
        info = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))
        s = blocked_schedule(term.op, term.attrs, term.type, [a.type for a in term.args], [False, False], 8)
        assert s is not None and s["parallel"] == "n"
        return blocked_compute_seconds(info, s, 2 * math.prod(batch) * 64 * 64 * 48, model)

    assert gemm_items(64, 3, 6) == (1, 3)
    assert seconds((12,)) == pytest.approx(12 * seconds(()))


def test_a_convolution_split_over_channel_blocks_is_balanced_by_its_blocks():
    """A 1x1 convolution at 14x14 split over blocks of 16 output channels on two cores: 64
    channels are 4 blocks (both cores busy), 48 are 3 (one core idle a quarter of the time), so
    48 channels run at 3/4 of 64's efficiency; the output's 14 rows do not enter the split."""
    def efficiency(channels: int) -> float:
        x = T.var("x", (1, 32, 14, 14))
        term = T.conv2d(x, T.param("w", np.zeros((channels, 32, 1, 1), np.float32)))
        info = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))
        s = default_conv_schedule(x.type, term.args[1].type, term.type, dict(term.attrs), 8)
        return schedule_efficiency(info, {**s, "parallel": "oc", "oc_block": 16, "oc_tail": 0}, 8, 2)

    assert efficiency(48) == pytest.approx(0.75 * efficiency(64))


def test_a_short_reduction_pays_its_c_block_over_fewer_steps():
    """A GEMM's reduction block is min(k_block, K) steps (the default: all K), and loading and
    storing its C block costs C_BLOCK_STEPS steps more: [96, K] x [K, 32] with K = 4 or 64 runs at
    (K / (K + 8)) / (256 / 264) of K = 256's efficiency (one block of 256); M does not enter it."""
    def efficiency(k: int) -> float:
        term = T.dense(T.var("x", (96, k)), T.param("w", np.zeros((32, k), np.float32)))
        info = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))
        s = blocked_schedule(term.op, term.attrs, term.type, [a.type for a in term.args], [False, True], 8)
        assert s is not None and s["k_block"] == k
        return schedule_efficiency(info, s, 8, 2)

    for k in (4, 64):
        share = (k / (k + C_BLOCK_STEPS)) / (256 / (256 + C_BLOCK_STEPS))
        assert efficiency(k) == pytest.approx(share * efficiency(256))


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_a_3x3_stride_2_convolution_runs_as_im2col_where_its_output_rows_are_short(isa):
    """ResNet's downsampling 3x3 stride-2 convolutions: 128 -> 256 from 28x28 (14-pixel output
    rows) stays direct on the channels-in-lanes kernel (its reduction of 1152 steps is deep
    enough: one Zen 3 core, CPU time, one process, loaded: 0.92x the im2col form's time); a
    shallow one, 28 -> 256 from 13x13 (7-pixel rows, 252 steps: the phase-split direct kernel's
    pixel vectors), extracts as the pointwise convolution of its 9 stacked tap slices, for
    either ISA; on the host an im2col program of two images, an odd and an even side and a
    residual operand equals the interpreter; 32 -> 32 from 56x56 stays direct (28-pixel rows)."""
    rng = np.random.default_rng(0)

    def compiled(c: int, o: int, shape: tuple[int, int, int], residual: bool = False):
        n, h, w_ = shape
        w = T.param("w", (rng.standard_normal((o, c, 3, 3)) * 0.1).astype(np.float32))
        b = T.param("b", rng.standard_normal(o).astype(np.float32))
        rest = (T.var("r", (n, o, (h + 1) // 2, (w_ + 1) // 2)),) if residual else ()
        steps = (("add",), ("relu",)) if residual else (("relu",),)
        program = ft.Program({"y": T.fused_conv2d(T.var("x", (n, c, h, w_)), w, b, *rest, strides=(2, 2),
                                                  pads=(1, 1, 1, 1), epilogue=steps)})
        return program, ft.compile(program, target=TARGETS[isa], threads=1)

    assert compiled(128, 256, (1, 27, 27))[1].program.outputs["y"].args[0].op.value == "input"
    program, short = compiled(28, 256, (1, 13, 13))
    y = short.program.outputs["y"]
    assert (y.op.value, y.args[0].op.value, y.args[1].shape) == ("fused_conv2d", "concat", (256, 9 * 28, 1, 1))
    if isa == "avx2":
        program, mixed = compiled(28, 256, (2, 14, 13), residual=True)
        assert mixed.program.outputs["y"].args[0].op.value == "concat"
        inputs = {name: rng.standard_normal(t.shape).astype(np.float32) for name, t in program.inputs.items()}
        np.testing.assert_allclose(mixed.run(**inputs)["y"], ft.evaluate(program, inputs)["y"], rtol=1e-4, atol=1e-4)
    assert compiled(32, 32, (1, 56, 56))[1].program.outputs["y"].args[0].op.value == "input"


@pytest.mark.parametrize("lanes", [8, 16])
def test_the_channel_gemm_is_priced_at_or_below_the_direct_kernel_on_the_layers_it_takes(lanes):
    """On the layers `takes_channel_gemm` accepts (ResNet-50's expansions, MobileNet-style 6x
    ones at 14x14, a 2x one at 14x14), the AVX2 and AVX-512 models on two cores price the channel
    GEMM at or below the direct kernel's default, as it measured (0.83-0.99 of its time on one
    Zen 3 core), and `ft.compile` runs 64 -> 384 at 14x14 untiled (on the channel GEMM), where it
    ran a tiled direct kernel priced lower."""
    model = CpuModel(vector_lanes=lanes, cores=2)
    for c, o, size in ((64, 256, 56), (128, 512, 28), (256, 1024, 14), (512, 1024, 14), (64, 384, 14),
                       (96, 576, 14), (80, 480, 14), (112, 672, 14), (64, 128, 14)):
        x, w = T.var("x", (1, c, size, size)), T.param("w", np.zeros((o, c, 1, 1), np.float32))
        term = T.fused_conv2d(x, w, T.param("b", np.zeros(o, np.float32)), epilogue=(("relu",),))
        info = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))
        assert takes_channel_gemm(w.type, term.type, dict(term.attrs), True)
        gemm = blocked_schedule(term.op, term.attrs, term.type, info.operands, (False, True, True), lanes)
        direct = default_conv_schedule(x.type, w.type, term.type, dict(term.attrs), lanes)
        flops = 2.0 * o * c * size * size
        assert kernel_of(gemm) == CHANNEL_GEMM
        assert blocked_compute_seconds(info, gemm, flops, model) <= blocked_compute_seconds(info, direct, flops, model)
    rng = np.random.default_rng(0)
    x, w = T.var("x", (1, 64, 14, 14)), T.param("w", rng.standard_normal((384, 64, 1, 1)).astype(np.float32))
    b = T.param("b", rng.standard_normal(384).astype(np.float32))
    y = T.relu(T.add(T.conv2d(x, w), T.reshape(b, (1, 384, 1, 1))))
    compiled = ft.compile(ft.Program({"y": y}), target=TARGETS["avx2"], threads=2)
    assert compiled.program.outputs["y"].op.value == "fused_conv2d"


@pytest.mark.parametrize("c, o, size", [(128, 512, 28), (256, 1024, 14), (512, 1024, 14)])
def test_the_one_vector_channel_gemm_panel_is_priced_below_two_vectors_as_measured(c, o, size, monkeypatch):
    """AVX-512's channel GEMM takes panels of one vector (8 x 1, `CHANNEL_GEMM_WIDE_VECTORS`),
    whose broadcasts LLVM folds into the FMAs; the one-core AVX-512 model prices it below the
    8 x 2 panels, as measured (AMD EPYC znver4, one thread, CPU time, loaded, 8 x 1 over 8 x 2:
    128 -> 512 at 28x28 0.96, 256 -> 1024 at 14x14 0.91-0.92, 512 -> 1024 at 14x14 0.93)."""
    model = CpuModel(vector_lanes=16, cores=1)
    x, w = T.var("x", (1, c, size, size)), T.param("w", np.zeros((o, c, 1, 1), np.float32))
    term = T.fused_conv2d(x, w, T.param("b", np.zeros(o, np.float32)), epilogue=(("relu",),))
    info = NodeInfo(term.op, term.attrs, term.type, tuple(a.type for a in term.args))

    def seconds(vectors: int) -> float:
        monkeypatch.setattr(cpu_schedules, "CHANNEL_GEMM_WIDE_VECTORS", vectors)
        gemm = blocked_schedule(term.op, term.attrs, term.type, info.operands, (False, True, True), 16)
        assert (kernel_of(gemm), gemm["n_block"]) == (CHANNEL_GEMM, 16 * vectors)
        return blocked_compute_seconds(info, gemm, 2.0 * o * c * size * size, model)

    assert seconds(1) < seconds(2)


@pytest.mark.parametrize("c", [256, 512])
def test_a_14x14_stride_2_layer_extracts_on_the_lanes_kernel_on_two_cores(c):
    """ResNet's 3x3 stride-2 c -> 512 from 14x14 (7x7 output, 49 pixels): the AVX2 model on two
    cores (the host's, which `ft.compile` uses) prices the channels-in-lanes kernel below the
    im2col form (a pad, 9 tap slices, a concat, a pixel GEMM) and below every tiled direct
    candidate. Measured (one Zen 3 host, CPU time, one process, 20 rounds x 5 runs, loaded,
    load 8-9), lanes over im2col: 512 -> 512 0.938 at one thread, 0.931 at two; 256 -> 512 1.016
    (q1 0.96, q3 1.04) at one, 0.985 (q1 0.95, q3 1.01) at two: a tie. Modelled on two cores:
    0.984 and 0.978 (on one core the model prefers im2col, ~1.06x)."""
    rng = np.random.default_rng(0)
    x = T.var("x", (1, c, 14, 14))
    w = T.param("w", (rng.standard_normal((512, c, 3, 3)) * 0.05).astype(np.float32))
    b = T.param("b", rng.standard_normal((1, 512, 1, 1)).astype(np.float32))
    program = ft.Program({"y": T.relu(T.add(T.conv2d(x, w, strides=(2, 2), pads=(1, 1, 1, 1)), b))})
    data, _ = saturate(program)
    model = CpuModel(cores=2, vector_lanes=8, fp32_flops_per_core=CpuModel.fp32_flops_per_core * 8 / 16)
    choice, _ = extract(data, model)
    y = fold_params(data.to_program(choice)).outputs["y"]
    assert (y.op.value, y.args[0].op.value) == ("fused_conv2d", "input")
    assert kernel_of(blocked_schedule(y.op, y.attrs, y.type, [a.type for a in y.args], [False, True, True], 8)
                     or {}) == "lanes_conv"


def test_the_threads_take_a_gemms_items_from_both_ends():
    """Even cores take the first item left, odd ones the last (the kernel's work counter): items
    of 1, 1, 1, 3 split 3 / 3 (core 1 takes the 3 first), where one end would give core 1 the 1
    and the 3 (4 of 6). The kernel numbers the items panel group by panel group."""
    assert taken_balance([1, 1, 1, 3], 2) == 1.0
    assert taken_balance([3, 1, 1, 1, 1], 2) == pytest.approx(7 / 8)
    assert gemm_item_sizes(300, 7, 6) == [96, 96, 96, 12] + [192, 192, 192, 24] * 3
