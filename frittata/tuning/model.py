"""The learned cost model: a gradient-boosted ranking of candidate schedules (LightGBM lambdarank).

Features of a candidate (a workload and a schedule, see `features`) describe its loops and
memory traffic in terms that carry over from one workload to another: log FLOPs, extents of
the blocked iteration space, vector width, the register block (rows, vectors, accumulators,
registers it needs against the host's), the reduction block and the bytes of weights re-read
per k step (cache footprint), the remainder fractions, the parallel loop and how evenly its
units split over the threads, bytes moved per FLOP, and the analytical model's log seconds.

The model ranks the candidates of one workload; it is fitted on all the records of a device
(every workload at once, so what was learned on earlier workloads transfers to a new one), with
one query group per workload and relevance 0..MAX_LABEL = MAX_LABEL * best time / time (a
failed candidate: 0). It is refitted after every measured batch. LightGBM rather than xgboost:
its lambdarank objective optimizes the top of each group's ranking, which is what choosing the
next batch needs, and its wheel is a few MB with no GPU libraries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from frittata.extract.cpu_model import CpuModel
from frittata.extract.bitserial_cost import tile_efficiency
from frittata.extract.cost import NodeInfo
from frittata.extract.records import (SCHEDULED_IN_PLACE, TILED_OF, Record, Schedule, Workload, infer_output,
                                      is_depthwise_workload)
from frittata.extract.schedule_cost import balance, depthwise_tile_efficiency, schedule_efficiency
from frittata.terms.cpu_schedules import (bitserial_tile_registers, depthwise_registers, registers_for,
                                         uses_nibbles)
from frittata.terms.ops import Op

MAX_LABEL = 30
"""Highest relevance: LightGBM's default label gains cover 0..30."""
PARAMS = {"objective": "lambdarank", "num_leaves": 15, "learning_rate": 0.1, "min_data_in_leaf": 2,
          "min_sum_hessian_in_leaf": 1e-6, "verbose": -1, "num_threads": 1, "deterministic": True, "seed": 0}
ROUNDS = 60


def features(workload: Workload, schedule: Schedule, lanes: int, cores: int, model: CpuModel) -> list[float]:
    """The feature vector of one candidate (see the module docstring)."""
    info = infer_output(workload)
    s = dict(schedule)
    if info.op in SCHEDULED_IN_PLACE:
        return bitserial_features(info, s, lanes, cores, model)
    if is_depthwise_workload(workload):
        return depthwise_features(info, schedule, lanes, cores, model)
    if "m_block" in s and workload.op == "fused_conv2d":
        return pixel_gemm_features(info, schedule, lanes, cores, model)
    conv = workload.op == "fused_conv2d"
    out, x, w = info.type, info.operands[0], info.operands[1]
    if conv:
        rows, cols, depth = out.shape[1], out.shape[3], x.shape[1]
        taps, mr, nr, kc = w.shape[2] * w.shape[3], s["oc_block"], s["ow_block"], s["c_block"]
        units = math.ceil(rows / mr) if s["parallel"] == "oc" else out.shape[2] * math.ceil(cols / nr)
        other = out.shape[2]
    else:
        cols = out.shape[-1]
        rows, depth, taps = out.size // max(cols, 1), x.shape[-1], 1
        mr, nr, kc = s["m_block"], s["n_block"], s["k_block"]
        units = math.ceil(cols / nr) if s["parallel"] == "n" else math.ceil(rows / mr)
        other = 1
    nv = max(1, nr // s["vec"])
    flops = 2.0 * rows * cols * other * depth * taps
    moved = out.nbytes + sum(t.nbytes for t in info.operands)
    tiled = replace(info, op=TILED_OF[info.op], attrs=info.attrs + (("schedule", schedule),))
    seconds = model.node_cost(tiled)
    return [
        math.log2(flops), math.log2(rows), math.log2(cols), math.log2(depth), float(taps), math.log2(other),
        float(s["vec"]), float(s["vec"] / lanes), float(mr), float(nv), float(mr * nv),
        float(mr * nv + nv + 1) / registers_for(lanes), math.log2(min(kc, depth)),
        math.log2(mr * min(kc, depth) * taps * 4 if conv else min(kc, depth) * nr * 4),
        (rows % mr) / mr, (cols % nr) / nr, float(s["parallel"] in ("pixel", "m")),
        balance(units, cores), math.log2(units), moved / flops,
        schedule_efficiency(tiled, s, lanes, cores), math.log(seconds) if seconds > 0 else 0.0,
    ]


def depthwise_features(info: NodeInfo, schedule: Schedule, lanes: int, cores: int, model: CpuModel) -> list[float]:
    """A depthwise candidate in the same terms: rows the output channels, columns the output
    pixels of a row, depth 1 (one input channel), the register block `oh_block` rows by the
    vectors of `ow_block`, the parallel units the input channels."""
    s = dict(schedule)
    out, w = info.type, info.operands[1]
    rows, cols, other, taps = out.shape[1], out.shape[3], out.shape[2], w.shape[2] * w.shape[3]
    rb, nr = s["oh_block"], s["ow_block"]
    nv = max(1, nr // s["vec"])
    flops = 2.0 * out.size * taps
    moved = out.nbytes + sum(t.nbytes for t in info.operands)
    tiled = replace(info, op=TILED_OF[info.op], attrs=info.attrs + (("schedule", schedule),))
    seconds = model.node_cost(tiled)
    units = info.operands[0].shape[1]
    return [
        math.log2(flops), math.log2(rows), math.log2(cols), 0.0, float(taps), math.log2(other),
        float(s["vec"]), float(s["vec"] / lanes), float(rb), float(nv), float(rb * nv),
        float(depthwise_registers(taps, rb, nv)) / registers_for(lanes), 0.0, math.log2(taps * 4),
        (other % rb) / rb, (cols % nr) / nr, 0.0,
        balance(units, cores), math.log2(units), moved / flops,
        depthwise_tile_efficiency(info, s, lanes), math.log(seconds) if seconds > 0 else 0.0,
    ]


def pixel_gemm_features(info: NodeInfo, schedule: Schedule, lanes: int, cores: int, model: CpuModel) -> list[float]:
    """A pointwise convolution's pixel GEMM in a dense layer's terms: rows the output pixels,
    columns the output channels, depth the input channels (one reduction block), the register
    block `m_block` pixels by the vectors of `n_block`, the parallel units the column panels."""
    s = dict(schedule)
    out, x = info.type, info.operands[0]
    rows, cols, depth = out.shape[2] * out.shape[3], out.shape[1], x.shape[1]
    mr, nr = s["m_block"], s["n_block"]
    nv = max(1, nr // s["vec"])
    flops = 2.0 * rows * cols * depth
    moved = out.nbytes + sum(t.nbytes for t in info.operands)
    tiled = replace(info, op=TILED_OF[info.op], attrs=info.attrs + (("schedule", schedule),))
    seconds = model.node_cost(tiled)
    units = math.ceil(cols / nr)
    efficiency = flops / (seconds * cores * model.fp32_flops_per_core) if seconds > 0 else 0.0
    return [
        math.log2(flops), math.log2(rows), math.log2(cols), math.log2(depth), 1.0, 0.0,
        float(s["vec"]), float(s["vec"] / lanes), float(mr), float(nv), float(mr * nv),
        float(mr * nv + nv + 1) / registers_for(lanes), math.log2(depth), math.log2(depth * nr * 4),
        (rows % mr) / mr, (cols % nr) / nr, 0.0,
        balance(units, cores), math.log2(units), moved / flops,
        efficiency, math.log(seconds) if seconds > 0 else 0.0,
    ]


def bitserial_features(info: NodeInfo, s: dict, lanes: int, cores: int, model: CpuModel) -> list[float]:
    """A bit-serial candidate in the same terms: rows the output channels, columns the output
    pixels of a row, depth the word pairs of one tap (word pairs counted as the kernel's work
    units), the register block `blocks` channel blocks by `pixels` pixels."""
    out, x, w = info.type, info.operands[0], info.operands[1]
    conv = info.op == Op.BITSERIAL_CONV2D
    rows, cols = w.shape[0], out.shape[3] if conv else 1
    other = out.size // (rows * cols)
    taps, depth = (w.shape[1] * w.shape[2] if conv else 1), x.shape[-2] * w.shape[-2] * w.shape[-1]
    channels = s["blocks"] * max(1, lanes // 2)
    mr, nr, units = channels, s["pixels"], other * math.ceil(rows / channels)
    scheduled = replace(info, attrs=info.attrs + (("schedule", tuple(s.items())),))
    seconds = model.node_cost(scheduled)
    nibbles = uses_nibbles(lanes, x.dtype, True)
    tile = tile_efficiency(w, x.shape[-2], nr, s["blocks"], nibbles, lanes)
    needed = bitserial_tile_registers(x.shape[-2], w.shape[-2], nr, s["blocks"], nibbles)
    flops = 64.0 * rows * cols * other * depth * taps
    moved = out.nbytes + sum(t.nbytes for t in info.operands)
    return [
        math.log2(flops), math.log2(rows), math.log2(cols), math.log2(depth), float(taps), math.log2(other),
        float(lanes), 1.0, float(mr), float(nr), float(s["blocks"] * nr), needed / registers_for(lanes),
        math.log2(depth), math.log2(channels * depth * taps * 8), (rows % mr) / mr, (cols % nr) / nr, 0.0,
        balance(units, cores), math.log2(units), moved / flops, tile, math.log(seconds) if seconds > 0 else 0.0,
    ]


class RankModel:
    """Ranks a workload's candidate schedules; `fit` on records, `scores` for new candidates."""

    def __init__(self, lanes: int, cores: int, model: CpuModel | None = None) -> None:
        self.lanes, self.cores = lanes, cores
        self.model = model or CpuModel.for_host(cores=cores)
        self.booster: Any = None
        self._features: dict[tuple[str, Schedule], list[float]] = {}

    @property
    def trained(self) -> bool:
        return self.booster is not None

    def vector(self, workload: Workload, schedule: Schedule) -> list[float]:
        key = (workload.key, schedule)
        if key not in self._features:
            self._features[key] = features(workload, schedule, self.lanes, self.cores, self.model)
        return self._features[key]

    def fit(self, records: Sequence[Record]) -> bool:
        """Refit on `records` (one device's); False (and unchanged) without a workload of two or
        more candidates, one of them measured, or without a spread in the labels."""
        import lightgbm

        groups: dict[str, list[Record]] = {}
        for record in records:
            groups.setdefault(record.workload.key, []).append(record)
        rows, labels, sizes = [], [], []
        for members in groups.values():
            times = [r.seconds for r in members if r.ok and r.seconds]
            if len(members) < 2 or not times:
                continue
            best = min(times)
            for r in members:
                rows.append(self.vector(r.workload, r.schedule))
                labels.append(int(MAX_LABEL * best / r.seconds) if r.ok and r.seconds else 0)
            sizes.append(len(members))
        if not sizes or len(set(labels)) < 2:
            return False
        data = lightgbm.Dataset(np.array(rows), np.array(labels), group=sizes)
        self.booster = lightgbm.train(PARAMS, data, num_boost_round=ROUNDS)
        return True

    def scores(self, workload: Workload, schedules: Sequence[Schedule]) -> np.ndarray:
        """Higher is predicted faster; the analytical model's ranking while untrained."""
        matrix = np.array([self.vector(workload, s) for s in schedules])
        if self.booster is None:
            return -matrix[:, -1]
        return np.asarray(self.booster.predict(matrix))


class LearnedPrice:
    """Seconds for unmeasured schedules of measured workloads: the ranking model's score mapped
    to seconds by a least-squares line through (score, log seconds) of the workload's measured
    candidates (at least `MIN_MEASURED`, and only where faster ones score higher)."""

    MIN_MEASURED = 4

    def __init__(self, records: Sequence[Record], lanes: int, cores: int) -> None:
        self.model = RankModel(lanes, cores)
        self.lines: dict[str, tuple[float, float]] = {}
        if not self.model.fit(records):
            return
        groups: dict[str, list[Record]] = {}
        for record in records:
            if record.ok and record.seconds:
                groups.setdefault(record.workload.key, []).append(record)
        for key, members in groups.items():
            if len(members) >= self.MIN_MEASURED:
                scores = self.model.scores(members[0].workload, [r.schedule for r in members])
                logs = np.log([float(r.seconds) for r in members if r.seconds])
                slope, intercept = np.polyfit(scores, logs, 1) if np.ptp(scores) > 0 else (0.0, 0.0)
                if slope < 0:
                    self.lines[key] = (float(slope), float(intercept))

    def __call__(self, workload: Workload, schedule: Schedule) -> float | None:
        line = self.lines.get(workload.key)
        if line is None:
            return None
        (score,) = self.model.scores(workload, [schedule])
        return math.exp(line[0] * float(score) + line[1])
