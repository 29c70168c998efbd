"""The learned cost model: a gradient-boosted ranking of candidate schedules (LightGBM lambdarank).

Features of a candidate (a workload and a schedule) describe its loops and memory traffic in
terms that carry over from one workload to another. Each kernel family maps its candidate to
one `Loops` (the blocked iteration space, register block, reduction block, remainders, parallel
units, bytes moved, the analytical model's efficiency and seconds), and the table `FEATURES`
names each feature and computes it from the `Loops`: log FLOPs, extents of the blocked iteration
space, vector width, the register block (rows, vectors, accumulators, registers it needs against
the host's), the reduction block and the bytes of weights re-read per k step (cache footprint),
the remainder fractions, the parallel loop and how evenly its units split over the threads,
bytes moved per FLOP, and the analytical model's efficiency and log seconds. Then three features
of the candidate against its workload's generated space (`RELATIVE_NAMES`): its modelled seconds
over the space's best, the share of the space modelled faster, its modelled efficiency over the
best's. A workload's extents and seconds differ from every other's, so trees split on them learn
that workload; these read the same on every workload (0, 0 and 1 for the roofline's pick of
the generated space), so a model fitted on other layers' records can say where a new layer's
roofline ranking goes wrong. Over the generated space they range over [0, inf), [0, 1) and
[0, 1]; a schedule a task adds to it (an e-graph's proposal) may read below 0 and above 1.

The model ranks the candidates of one workload; it is fitted on all the records of a device
(every workload at once, so what was learned on earlier workloads transfers to a new one), with
one query group per workload and relevance 0..MAX_LABEL = MAX_LABEL * best time / time (a
failed candidate: 0). It is refitted after every measured batch. LightGBM rather than xgboost:
its lambdarank objective optimizes the top of each group's ranking, which is what choosing the
next batch needs, and its wheel is a few MB with no GPU libraries.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from frittata.errors import FrittataTypeError
from frittata.extract.algorithms import scheduled_info
from frittata.extract.cpu_model import CpuModel
from frittata.extract.bitserial_cost import tile_efficiency
from frittata.extract.cost import NodeInfo
from frittata.extract.records import (SCHEDULED_IN_PLACE, TILED_OF, Record, Schedule, Workload, by_workload,
                                      infer_output, is_algorithm, is_depthwise_workload)
from frittata.extract.depthwise_cost import depthwise_tile_efficiency
from frittata.extract.schedule_cost import balance, schedule_efficiency
from frittata.terms.bitserial_schedules import bitserial_tile_registers, uses_nibbles
from frittata.terms.cpu_geometry import depthwise_registers, registers_for
from frittata.terms.cpu_schedules import WINOGRAD
from frittata.terms.ops import Op
from frittata.terms.winograd import block_count, tile_count
from frittata.tuning.tasks import generated_space

MAX_LABEL = 30
"""Highest relevance: LightGBM's default label gains cover 0..30."""
PARAMS = {"objective": "lambdarank", "num_leaves": 15, "learning_rate": 0.1, "min_data_in_leaf": 2,
          "min_sum_hessian_in_leaf": 1e-6, "verbose": -1, "num_threads": 1, "deterministic": True, "seed": 0}
ROUNDS = 60


@dataclass(frozen=True, kw_only=True)
class Loops:
    """A candidate's loops in the terms every kernel family maps to: a blocked `rows` x `cols`
    iteration space repeated `other` times, reducing over `depth` per tap of `taps`; a register
    block of `block_rows` rows by `block_vectors` vectors (`accumulators` registers of results,
    `registers` in all) of `vec`-lane vectors; reduction blocks of `reduction_block`, re-reading
    `footprint` bytes of weights per step; the remainders' shares of a block (`row_tail`,
    `col_tail`); `units` parallel units over `cores` (split by pixel or row when
    `pixel_parallel`); `moved` bytes of operands and output; the analytical model's `efficiency`
    and `seconds`. Each family's function (`features`) says how its kernel maps to them."""

    flops: float
    rows: int
    cols: int
    depth: int
    taps: int
    other: int
    vec: int
    lanes: int
    block_rows: int
    block_vectors: int
    accumulators: int
    registers: int
    reduction_block: int
    footprint: float
    row_tail: float
    col_tail: float
    pixel_parallel: bool
    units: int
    cores: int
    moved: float
    efficiency: float
    seconds: float


FEATURES: tuple[tuple[str, Callable[[Loops], float]], ...] = (
    ("log2_flops", lambda c: math.log2(c.flops)),
    ("log2_rows", lambda c: math.log2(c.rows)),
    ("log2_cols", lambda c: math.log2(c.cols)),
    ("log2_depth", lambda c: math.log2(c.depth)),
    ("taps", lambda c: float(c.taps)),
    ("log2_other", lambda c: math.log2(c.other)),
    ("vec", lambda c: float(c.vec)),
    ("vec_share_of_lanes", lambda c: float(c.vec / c.lanes)),
    ("block_rows", lambda c: float(c.block_rows)),
    ("block_vectors", lambda c: float(c.block_vectors)),
    ("accumulators", lambda c: float(c.accumulators)),
    ("register_share", lambda c: float(c.registers) / registers_for(c.lanes)),
    ("log2_reduction_block", lambda c: math.log2(c.reduction_block)),
    ("log2_footprint_bytes", lambda c: math.log2(c.footprint)),
    ("row_tail", lambda c: c.row_tail),
    ("col_tail", lambda c: c.col_tail),
    ("pixel_parallel", lambda c: float(c.pixel_parallel)),
    ("thread_balance", lambda c: balance(c.units, c.cores)),
    ("log2_units", lambda c: math.log2(c.units)),
    ("bytes_per_flop", lambda c: c.moved / c.flops),
    ("model_efficiency", lambda c: c.efficiency),
    ("log_model_seconds", lambda c: math.log(c.seconds) if c.seconds > 0 else 0.0),
)
"""The learned model's features, by name: what each is computed from a candidate's `Loops`."""
OWN_NAMES = tuple(name for name, _ in FEATURES)
MODEL_SECONDS = OWN_NAMES.index("log_model_seconds")
MODEL_EFFICIENCY = OWN_NAMES.index("model_efficiency")
RELATIVE_NAMES = ("log_model_seconds_over_best", "model_rank_share", "model_efficiency_share")
"""A candidate against its workload's generated space (`relative_features`): the same numbers on
every workload for the roofline's best candidate, so what a model learned of the prior's errors
on other workloads' records reads the same on a new one."""
FEATURE_NAMES = OWN_NAMES + RELATIVE_NAMES


def own_features(workload: Workload, schedule: Schedule, lanes: int, cores: int, model: CpuModel) -> list[float]:
    """OWN_NAMES of one candidate alone, in FEATURES' order (see the module docstring); the
    relative ones (`relative_features`) complete FEATURE_NAMES."""
    loops = candidate_loops(workload, schedule, lanes, cores, model)
    return [compute(loops) for _, compute in FEATURES]


@dataclass(frozen=True)
class SpaceSummary:
    """What the relative features compare a candidate with: the modelled log seconds of every
    schedule of its workload's generated space, sorted, and their best modelled efficiency."""

    log_seconds: tuple[float, ...]
    efficiency: float

    @classmethod
    def of(cls, rows: Sequence[Sequence[float]]) -> SpaceSummary:
        """The summary of a space from its candidates' own features (`own_features`)."""
        return cls(tuple(sorted(r[MODEL_SECONDS] for r in rows)), max(r[MODEL_EFFICIENCY] for r in rows))


def relative_features(own: Sequence[float], space: SpaceSummary) -> list[float]:
    """RELATIVE_NAMES of a candidate from its own features: its modelled log seconds over the
    space's best, the share of the space modelled faster than it, its modelled efficiency over the
    space's best."""
    seconds = own[MODEL_SECONDS]
    faster = bisect.bisect_left(space.log_seconds, seconds) / len(space.log_seconds)
    efficiency = own[MODEL_EFFICIENCY] / space.efficiency if space.efficiency > 0 else 0.0
    return [seconds - space.log_seconds[0], faster, efficiency]


def named_features(workload: Workload, schedule: Schedule, lanes: int, cores: int,
                   model: CpuModel) -> dict[str, float]:
    """The features of one candidate by name, the relative ones against its generated space."""
    return dict(zip(FEATURE_NAMES, RankModel(lanes, cores, model).vector(workload, schedule)))


def candidate_loops(workload: Workload, schedule: Schedule, lanes: int, cores: int, model: CpuModel) -> Loops:
    """The `Loops` of one candidate, by its kernel family."""
    info = infer_output(workload)
    s = dict(schedule)
    if info.op in SCHEDULED_IN_PLACE:
        return bitserial_loops(info, s, lanes, cores, model)
    if is_depthwise_workload(workload):
        return depthwise_loops(info, schedule, lanes, cores, model)
    if is_algorithm(schedule):
        return algorithm_loops(info, scheduled_info(workload, schedule), schedule, lanes, cores, model)
    if "k_block" in s and workload.op == "fused_conv2d":
        return channel_gemm_loops(info, schedule, lanes, cores, model)
    if "m_block" in s and workload.op == "fused_conv2d":
        return pixel_gemm_loops(info, schedule, lanes, cores, model)
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
    block = min(kc, depth)
    tiled = _tiled(info, schedule)
    return Loops(
        flops=2.0 * rows * cols * other * depth * taps, rows=rows, cols=cols, depth=depth, taps=taps, other=other,
        vec=s["vec"], lanes=lanes, block_rows=mr, block_vectors=nv, accumulators=mr * nv, registers=mr * nv + nv + 1,
        reduction_block=block, footprint=mr * block * taps * 4 if conv else block * nr * 4, row_tail=(rows % mr) / mr,
        col_tail=(cols % nr) / nr, pixel_parallel=s["parallel"] in ("pixel", "m"), units=units, cores=cores,
        moved=_moved(info), efficiency=schedule_efficiency(tiled, s, lanes, cores), seconds=model.node_cost(tiled))


def depthwise_loops(info: NodeInfo, schedule: Schedule, lanes: int, cores: int, model: CpuModel) -> Loops:
    """A depthwise candidate: rows the output channels, columns the output pixels of a row,
    `other` the output rows, depth 1 (one input channel), the register block `oh_block` rows by
    the vectors of `ow_block` (with the taps' weights in registers), no reduction block, the
    parallel units the input channels."""
    s = dict(schedule)
    out, w = info.type, info.operands[1]
    rows, cols, other, taps = out.shape[1], out.shape[3], out.shape[2], w.shape[2] * w.shape[3]
    rb, nr = s["oh_block"], s["ow_block"]
    nv = max(1, nr // s["vec"])
    return Loops(
        flops=2.0 * out.size * taps, rows=rows, cols=cols, depth=1, taps=taps, other=other, vec=s["vec"], lanes=lanes,
        block_rows=rb, block_vectors=nv, accumulators=rb * nv, registers=depthwise_registers(taps, rb, nv),
        reduction_block=1, footprint=taps * 4, row_tail=(other % rb) / rb, col_tail=(cols % nr) / nr,
        pixel_parallel=False, units=info.operands[0].shape[1], cores=cores, moved=_moved(info),
        efficiency=depthwise_tile_efficiency(info, s, lanes), seconds=model.node_cost(_tiled(info, schedule)))


def algorithm_loops(info: NodeInfo, runs: NodeInfo, schedule: Schedule, lanes: int, cores: int,
                    model: CpuModel) -> Loops:
    """A Winograd or channels-in-lanes candidate (`records.ALGORITHM_KERNELS`) in the direct
    convolution's terms: rows the output channels, columns the output pixels of a row, `other`
    the output rows, the direct FLOPs (so a faster algorithm reads as a higher efficiency); the
    register block a GEMM's (Winograd: `m_block` by the vectors of `n_block`) or `pixel_block`
    pixels by the vectors of `oc_block` (lanes_conv); the reduction block its `k_block` or
    `c_block`; the parallel units Winograd's (tile block, channel group) items or lanes_conv's
    pixel items; the analytical model's seconds of `runs`, the e-node that runs it."""
    s = dict(schedule)
    out, x, w = info.type, info.operands[0], info.operands[1]
    rows, cols, other, depth, taps = out.shape[1], out.shape[3], out.shape[2], x.shape[1], w.shape[2] * w.shape[3]
    if s["kernel"] == WINOGRAD:
        tiles = tile_count(out.shape[2], out.shape[3], s["tile"])
        mr, nv, block = s["m_block"], max(1, s["n_block"] // s["vec"]), min(s["k_block"], depth)
        units = block_count(tiles, s["tile_block"]) * s["oc_groups"]
    else:
        mr, nv, block = s["pixel_block"], max(1, s["oc_block"] // s["vec"]), min(s["c_block"], depth)
        units = -(-out.shape[2] * cols // (s["pixel_block"] * s["item_tiles"]))
    flops = 2.0 * out.size * depth * taps
    seconds = model.node_cost(runs)
    efficiency = flops / (seconds * cores * model.fp32_flops_per_core) if seconds > 0 else 0.0
    return Loops(
        flops=flops, rows=rows, cols=cols, depth=depth, taps=taps, other=other, vec=s["vec"], lanes=lanes,
        block_rows=mr, block_vectors=nv, accumulators=mr * nv, registers=mr * nv + nv + 1, reduction_block=block,
        footprint=block * nv * s["vec"] * taps * 4, row_tail=0.0, col_tail=0.0, pixel_parallel=s["kernel"] != WINOGRAD,
        units=max(1, units), cores=cores, moved=_moved(info), efficiency=efficiency, seconds=seconds)


def pixel_gemm_loops(info: NodeInfo, schedule: Schedule, lanes: int, cores: int, model: CpuModel) -> Loops:
    """A pointwise convolution's pixel GEMM in a dense layer's terms: rows the output pixels,
    columns the output channels, depth the input channels (one reduction block), `other` the
    images (the kernel repeats the GEMM per image), the register block `m_block` pixels by the
    vectors of `n_block`, the parallel units the column panels."""
    out, depth = info.type, info.operands[0].shape[1]
    return _gemm_loops(info, schedule, out.shape[2] * out.shape[3], out.shape[1], out.shape[0], depth, lanes, cores,
                       model)


def channel_gemm_loops(info: NodeInfo, schedule: Schedule, lanes: int, cores: int, model: CpuModel) -> Loops:
    """An expanding pointwise convolution's channel GEMM in a dense layer's terms: rows the
    output channels, columns the output pixels, depth the input channels in blocks of `k_block`,
    `other` the images (one GEMM each), the register block `m_block` channels by the vectors of
    `n_block`, the parallel units the column panels."""
    out, depth = info.type, info.operands[0].shape[1]
    block = min(dict(schedule)["k_block"], depth)
    return _gemm_loops(info, schedule, out.shape[1], out.shape[2] * out.shape[3], out.shape[0], block, lanes, cores,
                       model)


def _gemm_loops(info: NodeInfo, schedule: Schedule, rows: int, cols: int, other: int, block: int, lanes: int,
                cores: int, model: CpuModel) -> Loops:
    """A pointwise convolution's GEMM (pixel or channel) of `other` images, each `rows` x `cols`
    over the input channels in blocks of `block`: `m_block` rows by the vectors of `n_block` per
    register block, the column panels the parallel units."""
    s = dict(schedule)
    depth = info.operands[0].shape[1]
    mr, nr = s["m_block"], s["n_block"]
    nv = max(1, nr // s["vec"])
    flops = 2.0 * rows * cols * depth * other
    seconds = model.node_cost(_tiled(info, schedule))
    efficiency = flops / (seconds * cores * model.fp32_flops_per_core) if seconds > 0 else 0.0
    return Loops(
        flops=flops, rows=rows, cols=cols, depth=depth, taps=1, other=other, vec=s["vec"], lanes=lanes, block_rows=mr,
        block_vectors=nv, accumulators=mr * nv, registers=mr * nv + nv + 1, reduction_block=block,
        footprint=block * nr * 4, row_tail=(rows % mr) / mr, col_tail=(cols % nr) / nr, pixel_parallel=False,
        units=math.ceil(cols / nr), cores=cores, moved=_moved(info), efficiency=efficiency, seconds=seconds)


def bitserial_loops(info: NodeInfo, s: dict, lanes: int, cores: int, model: CpuModel) -> Loops:
    """A bit-serial candidate: rows the output channels, columns the output pixels of a row,
    depth the word pairs of one tap (word pairs counted as the kernel's work units), the
    register block `blocks` channel blocks (block rows: their channels) by `pixels` pixels (block
    vectors), full-width vectors, the reduction block a tap's word pairs."""
    out, x, w = info.type, info.operands[0], info.operands[1]
    conv = info.op == Op.BITSERIAL_CONV2D
    rows, cols = w.shape[0], out.shape[3] if conv else 1
    other = out.size // (rows * cols)
    taps, depth = (w.shape[1] * w.shape[2] if conv else 1), x.shape[-2] * w.shape[-2] * w.shape[-1]
    channels, pixels = s["blocks"] * max(1, lanes // 2), s["pixels"]
    nibbles = uses_nibbles(lanes, x.dtype, True)
    scheduled = replace(info, attrs=info.attrs + (("schedule", tuple(s.items())),))
    return Loops(
        flops=64.0 * rows * cols * other * depth * taps, rows=rows, cols=cols, depth=depth, taps=taps, other=other,
        vec=lanes, lanes=lanes, block_rows=channels, block_vectors=pixels, accumulators=s["blocks"] * pixels,
        registers=bitserial_tile_registers(x.shape[-2], w.shape[-2], pixels, s["blocks"], nibbles),
        reduction_block=depth, footprint=channels * depth * taps * 8, row_tail=(rows % channels) / channels,
        col_tail=(cols % pixels) / pixels, pixel_parallel=False, units=other * math.ceil(rows / channels),
        cores=cores, moved=_moved(info),
        efficiency=tile_efficiency(w, x.shape[-2], pixels, s["blocks"], nibbles, lanes),
        seconds=model.node_cost(scheduled))


def _tiled(info: NodeInfo, schedule: Schedule) -> NodeInfo:
    return replace(info, op=TILED_OF[info.op], attrs=info.attrs + (("schedule", schedule),))


def _moved(info: NodeInfo) -> float:
    """Bytes of the operands and the output."""
    return info.type.nbytes + sum(t.nbytes for t in info.operands)


class RankModel:
    """Ranks a workload's candidate schedules; `fit` on records, `scores` for new candidates."""

    def __init__(self, lanes: int, cores: int, model: CpuModel | None = None) -> None:
        self.lanes, self.cores = lanes, cores
        self.model = model or CpuModel.for_host(cores=cores)
        self.booster: Any = None
        self._own: dict[tuple[str, Schedule], list[float]] = {}
        self._features: dict[tuple[str, Schedule], list[float]] = {}
        self._spaces: dict[str, SpaceSummary] = {}

    @property
    def trained(self) -> bool:
        return self.booster is not None

    def vector(self, workload: Workload, schedule: Schedule) -> list[float]:
        """FEATURE_NAMES of a candidate: its own features, then those against its generated space."""
        key = (workload.key, schedule)
        if key not in self._features:
            own = self._own_features(workload, schedule)
            self._features[key] = own + relative_features(own, self._space(workload, schedule))
        return self._features[key]

    def _own_features(self, workload: Workload, schedule: Schedule) -> list[float]:
        key = (workload.key, schedule)
        if key not in self._own:
            self._own[key] = own_features(workload, schedule, self.lanes, self.cores, self.model)
        return self._own[key]

    def _space(self, workload: Workload, schedule: Schedule) -> SpaceSummary:
        """The summary of `workload`'s generated space; where it has none, of `schedule` alone
        (not cached: what another candidate of it reads does not depend on which came first)."""
        if workload.key not in self._spaces:
            space = generated_space(workload, self.lanes)
            if not space:
                return SpaceSummary.of([self._own_features(workload, schedule)])
            self._spaces[workload.key] = SpaceSummary.of([self._own_features(workload, s) for s in space])
        return self._spaces[workload.key]

    def fit(self, records: Sequence[Record]) -> bool:
        """Refit on `records` (one device's); False (and unchanged) without a workload of two or
        more candidates, one of them measured, or without a spread in the labels."""
        import lightgbm

        rows, labels, sizes = [], [], []
        for members in by_workload(runnable(records)).values():
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
        if self.booster is None:
            return self.prior(workload, schedules)
        return np.asarray(self.booster.predict(np.array([self.vector(workload, s) for s in schedules])))

    def prior(self, workload: Workload, schedules: Sequence[Schedule]) -> np.ndarray:
        """The analytical (roofline) model's ranking: higher is fewer modelled seconds."""
        return -np.array([self._own_features(workload, s)[MODEL_SECONDS] for s in schedules])


def runnable(records: Sequence[Record]) -> list[Record]:
    """`records` but those of an algorithm schedule no e-node runs (`algorithms.scheduled_info`
    refuses other blocks than the e-node's: a record of other rules), which have no features."""
    kept = []
    for record in records:
        try:
            if is_algorithm(record.schedule):
                scheduled_info(record.workload, record.schedule)
        except FrittataTypeError:
            continue
        kept.append(record)
    return kept


class LearnedPrice:
    """Seconds for unmeasured schedules of measured workloads: the ranking model's score mapped
    to seconds by a least-squares line through (score, log seconds) of the workload's measured
    candidates (at least `MIN_MEASURED`, and only where faster ones score higher)."""

    MIN_MEASURED = 4

    def __init__(self, records: Sequence[Record], lanes: int, cores: int) -> None:
        self.model = RankModel(lanes, cores)
        self.lines: dict[str, tuple[float, float]] = {}
        records = runnable(records)
        if not self.model.fit(records):
            return
        for key, members in by_workload(r for r in records if r.ok and r.seconds).items():
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
