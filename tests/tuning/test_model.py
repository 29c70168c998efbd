"""The learned ranking model on a recorded set: 200 measurements of ResNet-18's convolutions and
its dense layer taken by `bench/tune_bench.py` on a 2-core AMD EPYC (Zen 3, AVX2), 2 threads,
while other jobs loaded the machine (noisy times). Held out: every third workload (7 of 19,
65 candidates); the learned model's mean Spearman there was 0.58 (the roofline's 0.67)."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from scipy.stats import spearmanr

from frittata.extract.cpu_model import CpuModel
from frittata.extract.records import Records, by_workload
from frittata.tuning.model import RankModel

RECORDED = Path(__file__).parent / "data" / "resnet18_epyc.jsonl"
LANES, CORES = 8, 2


def _model() -> RankModel:
    """The model with the recording host's figures (8 lanes), whatever host runs the test."""
    host = CpuModel(cores=CORES, vector_lanes=LANES, fp32_flops_per_core=CpuModel.fp32_flops_per_core * LANES / 16)
    return RankModel(LANES, CORES, host)


def _groups(records: Records) -> dict[str, list]:
    groups = by_workload(r for r in records if r.ok)
    return {k: v for k, v in groups.items() if len(v) >= 5 and len({r.seconds for r in v}) > 1}


def test_the_learned_model_ranks_held_out_workloads_better_than_chance():
    groups = _groups(Records.load(RECORDED))
    keys = sorted(groups)
    held_out = set(keys[::3])
    model = _model()
    assert model.fit([r for k in keys if k not in held_out for r in groups[k]])
    rhos = []
    for key in sorted(held_out):
        group = groups[key]
        scores = model.scores(group[0].workload, [r.schedule for r in group])
        rhos.append(spearmanr(scores, [-r.seconds for r in group]).statistic)
    assert statistics.mean(rhos) > 0.5, rhos


def test_an_untrained_model_ranks_by_the_roofline_and_fitting_needs_a_spread():
    groups = _groups(Records.load(RECORDED))
    model = _model()
    group = next(iter(groups.values()))
    assert not model.trained and len(model.scores(group[0].workload, [r.schedule for r in group])) == len(group)
    assert not model.fit(group[:1])


def test_features_have_one_name_each_and_read_as_the_candidate():
    """A 3x3 convolution 16 -> 32 at 12x12 with 4 x 2 register blocks of 8 lanes over 8 input
    channels, split by pixels: each named feature says what it measures."""
    from frittata.tuning.model import FEATURE_NAMES, named_features
    from tests.tuning.programs import conv_schedule, conv_workload

    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    model = _model()
    found = named_features(conv_workload(), conv_schedule(4, 2, 8, parallel="pixel"), LANES, CORES, model.model)
    assert list(found) == list(FEATURE_NAMES)
    assert (found["block_rows"], found["block_vectors"], found["accumulators"], found["taps"]) == (4, 2, 8, 9)
    assert found["register_share"] == (4 * 2 + 2 + 1) / 16 and found["log2_reduction_block"] == 3
    assert found["pixel_parallel"] == 1 and found["col_tail"] == (12 % 16) / 16 and found["log2_depth"] == 4


def test_relative_features_read_the_same_for_the_roofline_pick_of_any_workload():
    """Against its workload's generated space, the candidate the roofline models fastest reads 0
    seconds over the best and 0 of the space modelled faster, on a small and a larger layer; the
    modelled efficiency over the space's best is at most 1 and 1 for some candidate."""
    from frittata.tuning.model import FEATURE_NAMES, MODEL_SECONDS
    from frittata.tuning.tasks import generated_space
    from tests.tuning.programs import conv_workload

    model = _model()
    for workload in (conv_workload(), conv_workload(32, 64, 28)):
        rows = [dict(zip(FEATURE_NAMES, model.vector(workload, s))) for s in generated_space(workload, LANES)]
        fastest = min(rows, key=lambda r: r[FEATURE_NAMES[MODEL_SECONDS]])
        assert fastest["log_model_seconds_over_best"] == 0 and fastest["model_rank_share"] == 0
        assert all(0 <= r["model_rank_share"] < 1 and r["log_model_seconds_over_best"] >= 0 for r in rows)
        assert max(r["model_efficiency_share"] for r in rows) == 1
        assert all(r["model_efficiency_share"] <= 1 for r in rows)


def test_relative_features_of_a_hand_made_space():
    """A candidate modelled at 2 s with efficiency 0.25 in a space modelled at 1, 2 and 4 s whose
    best efficiency is 0.5: log 2 over the best, one of three modelled faster, half the best's
    efficiency; a tie counts as not faster (two of a space at 2 s: one of four faster)."""
    from frittata.tuning.model import MODEL_EFFICIENCY, MODEL_SECONDS, OWN_NAMES, SpaceSummary, relative_features

    own = [0.0] * len(OWN_NAMES)
    own[MODEL_SECONDS], own[MODEL_EFFICIENCY] = math.log(2), 0.25
    space = SpaceSummary((math.log(1), math.log(2), math.log(4)), 0.5)
    assert relative_features(own, space) == [math.log(2), 1 / 3, 0.5]
    tied = SpaceSummary((math.log(1), math.log(2), math.log(2), math.log(4)), 0.5)
    assert relative_features(own, tied)[1] == 1 / 4


def _pointwise_workload(images: int, channels: int, out_channels: int, size: int):
    from frittata.extract.records import Workload

    attrs = (("strides", (1, 1)), ("pads", (0, 0, 0, 0)), ("dilations", (1, 1)), ("groups", 1), ("epilogue", ()))
    operands = (((images, channels, size, size), "float32"), ((out_channels, channels, 1, 1), "float32"),
                ((out_channels,), "float32"))
    return Workload("fused_conv2d", operands, (False, True, True), attrs)


def test_gemm_loops_of_two_images_read_rows_columns_depth_and_images_field_by_field():
    """A pixel GEMM (rows the 49 pixels, columns the 12 output channels) and a channel GEMM
    (rows the 96 output channels, columns the 81 pixels, depth in K blocks of 8) of two images
    each: every size field as its kernel loops (the pixel GEMM's kernel repeats per image too)."""
    from frittata.tuning.model import candidate_loops

    host = CpuModel(cores=CORES, vector_lanes=LANES, fp32_flops_per_core=CpuModel.fp32_flops_per_core * LANES / 16)
    pixel = (("vec", 8), ("m_block", 4), ("m_tail", 49 % 4), ("n_block", 8), ("n_tail", 12 % 8), ("parallel", "n"))
    loops = candidate_loops(_pointwise_workload(2, 20, 12, 7), pixel, LANES, CORES, host)
    got = (loops.rows, loops.cols, loops.depth, loops.other, loops.flops, loops.reduction_block, loops.block_rows,
           loops.block_vectors, loops.units, loops.footprint, loops.row_tail, loops.col_tail)
    assert got == (49, 12, 20, 2, 2.0 * 2 * 49 * 12 * 20, 20, 4, 1, 2, 20 * 8 * 4, 1 / 4, 4 / 8)
    channel = (("vec", 8), ("m_block", 6), ("m_tail", 0), ("n_block", 16), ("n_tail", 81 % 16), ("k_block", 8),
               ("parallel", "n"))
    loops = candidate_loops(_pointwise_workload(2, 16, 96, 9), channel, LANES, CORES, host)
    got = (loops.rows, loops.cols, loops.depth, loops.other, loops.flops, loops.reduction_block, loops.block_rows,
           loops.block_vectors, loops.units, loops.footprint, loops.row_tail, loops.col_tail)
    assert got == (96, 81, 16, 2, 2.0 * 2 * 96 * 81 * 16, 8, 6, 2, 6, 8 * 16 * 4, 0.0, 1 / 16)
