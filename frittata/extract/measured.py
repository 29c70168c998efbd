"""Extraction with measured costs: tuning records price the kernels they measured.

`MeasuredCost` wraps a target's analytical model. A schedulable contraction e-node (see
`records.workload_of`) whose workload and schedule were measured on this device costs its
measured seconds; an unmeasured schedule of a workload the `learned` predictor prices (the
tuning package's ranking model, calibrated on the workload's measurements) costs its
prediction; any other contraction on a vectorized kernel (register-blocked, depthwise,
Winograd, int8) or bit-serial costs the analytical price times a measured ratio measured /
analytical, so measured and unmeasured alternatives are compared in the same units (the roofline
model is calibrated for another machine and the measurements include what it leaves out). The
ratio is that of the measurements of the same loops where there are some: the same contraction
(`geometry`: its input and weight shapes and convolution attributes, whatever its epilogue, bias
or tiling) run with the same schedule (an untiled conv2d and the untiled fused kernel of its
layer run the same default schedule); else the median ratio of the same contraction's
measurements; else the median over all. Per layer and schedule, because the model's error
differs from one to the other: with one median for all, an unmeasured plain conv2d plus a
separate bias-and-clip pass undercut the measured fused kernel of the same layer wherever the
model was more optimistic about that layer than about the median one (a tuned MobileNetV2
unfused 19 of its convolutions and ran 6-14% slower than untuned); with the median of the
layer's schedules, wherever the model was more optimistic about the default schedule than about
the layer's others (9 of them, one thread).

The ratio calibrates the contraction's loops only: what the analytical model adds for a fused
epilogue (`CpuModel.epilogue_seconds`: its bias and activation steps on the accumulators) is
left out of both sides of a measured ratio and added unscaled to a scaled price, in the units of
the separate elementwise pass an unfused alternative pays instead (which the model prices, as
every e-node that is not a contraction). Scaled, the fused epilogue cost ratio times what the
model says and the pass what the model says, so a large ratio alone made the unfused form look
cheaper. Every other e-node costs what the analytical model says. `source(info)` says which
priced an e-node. A schedule other than the workload's default costs SWITCH_MARGIN more than its
measurement, prediction or scaled price, so it replaces the default only where it was measured
faster by more than the noise. A measured workload without a decided verdict runs its default
(its other schedules cost PINNED_OUT), unless the records leave it free (`Records.free`: the
in-network check's tuned compile): a schedule measured faster alone replaces the default only
when a verdict kept it in place. A workload with a verdict (`records.Verdict`: its best schedule
timed against its default inside the network) runs the schedule the verdict pins: its other
schedules cost inf (PINNED_OUT), since a kernel measured faster alone can run slower in place,
and so do tiled e-nodes of the same contraction with another schedule (an unfused variant)
where the verdicts on that contraction's workloads all pin one schedule (`pinned_layers`).

Invariant: a cost is >= 0 seconds, or inf where the analytical model says inf, a verdict pins
another schedule, the untuned program does not run the workload, or every record of the schedule
is an error; it depends only on the `NodeInfo` and the records given at construction. An e-node
of the untuned program is inf only where a verdict pins, or error records move the default to,
another schedule its layer has an e-node of (a plain conv2d is priced, never inf), so a compile
with records finishes.

A convolution's algorithms (Winograd F(2x2) / F(4x4), the channels-in-lanes kernel: `algorithms`)
are schedules of its workload, so each such e-node is priced by its own measurement like a
tiled one, and "the workload's default" is the schedule a compile without records runs
(`algorithms.held_default`: the untuned program's, or the analytical model's pick among the
untiled kernel and the schedules the e-graph holds for the workload, less those recorded only as
errors), so a held workload runs what it ran untuned. A plain conv2d of a held layer whose default
is an algorithm (the unfused variant on the direct loops; the layer's by its input and weight
e-classes, not any conv2d of its shapes) costs at least that default.

`with_recorded_schedules` adds to an e-graph, beside each schedulable e-node, a tiled e-node with
the fastest recorded schedule of its workload (sound: a tiled op computes its fused op whatever
its schedule, and the schedule is type-checked against the operands), so the tuner's best
schedules are candidates even where the rules' table does not propose them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from frittata.errors import FrittataTypeError, TuningError
from frittata.extract.cost import CostModel, NodeInfo, checked_cost
from frittata.extract.problem import chosen_nodes, constant_classes, enode_info
from frittata.extract.algorithms import held_default, scheduled_info
from frittata.extract.records import (SCHEDULED_IN_PLACE, TILED_OF, Records, Schedule, Workload, infer_output,
                                      is_algorithm, workload_of)
from frittata.rewrites.data import Choice, EClass, EGraphData, ENode
from frittata.terms.cpu_schedules import CONV_OPS, DENSE_OPS, TILED_OPS, blocked_schedule
from frittata.terms.depthwise_schedules import depthwise_vector
from frittata.terms.ops import BY_NAME, Op

MEASURED, LEARNED, SCALED, MODEL = "measured", "learned", "model x scale", "model"
PINNED_OUT = math.inf
"""The cost of a schedule of a workload whose verdict pins another: never chosen."""
SWITCH_MARGIN = 0.05
"""How much faster than its workload's default a schedule must be priced to replace it: its
price is its time times 1 + SWITCH_MARGIN. Times of one candidate measured again at one
thread spread by 5-15% on a shared machine (shortest of 10 runs, AMD EPYC znver3, load ~5), and
a tuned MobileNetV2 swapped default depthwise kernels for tiles measured 0.1% faster that ran 60%
slower in the network (84 against 53 us): a gain inside the noise is not a measured gain."""

Predict = Callable[[Workload, Schedule], "float | None"]
"""Seconds a learned model predicts for a schedule of a workload, or None where it cannot."""


@dataclass
class MeasuredCost:
    """A cost model: measured seconds where records have them, else the scaled `fallback`."""

    records: Records
    device: str
    fallback: CostModel
    lanes: int
    learned: Predict | None = None
    alternatives: dict[str, tuple[Schedule, ...]] = field(default_factory=dict)
    """Per workload key, the schedules the e-graph holds (`schedules_in`, the tuner's
    `Task.proposed` too): the one list the workload's default is chosen from (`_default`); a
    workload it lacks has its untiled kernel's default alone. (A default the e-graph lacks, the
    algorithm rules disabled, would price every e-node of a held workload out.)"""
    untuned: dict[str, Schedule] | None = None
    """Per workload key, the schedule the program extracted with `fallback` alone runs
    (`untuned_schedules`), where the compile gives it: a workload that program does not run
    costs PINNED_OUT unless a verdict pins it or the records leave it free, so a compile with
    records runs the untuned program but where the in-network check confirmed a change (a tuned
    ResNet-18 ran an unmeasured im2col form of a strided layer measured on lanes_conv, and moved
    residual adds between layers, each an unmeasured variant priced by a scaled model)."""
    layers: dict[str, frozenset[tuple[int, ...]]] = field(default_factory=dict)
    """Per workload key, the (input, weight) e-classes of its e-nodes in the e-graph
    (`operand_classes`): the layers that run it. A plain conv2d of the same operand e-classes is
    one of those layers (`_off_algorithm`); without them, no plain conv2d is."""
    times: dict[tuple[str, Schedule], float] = field(init=False)
    failed: set[tuple[str, Schedule]] = field(init=False)
    """`Records.failed` on `device`: (workload key, schedule) recorded only as errors. Such a
    schedule costs PINNED_OUT unless it is its workload's default (`_default` picks one that did
    not fail wherever the workload has one)."""
    held: set[str] = field(init=False)
    """The keys of the workloads measured on `device` that the records do not leave free: without
    a verdict, they run their default schedule."""
    held_layers: set[tuple] = field(init=False)
    """The contraction `geometry` of each held workload: a variant of the same loops that was
    never measured (unfused, another epilogue) runs its default too."""
    defaults: dict[str, Schedule | None] = field(init=False, default_factory=dict)
    """Per workload key, its default schedule (`_default`), as first asked for."""
    pinned: dict[str, Schedule] = field(init=False)
    """Per workload key, the schedule its verdict pins (`Records.pinned`)."""
    pinned_layers: dict[tuple, Schedule] = field(init=False)
    """The same per contraction `geometry`, where it is unambiguous (`pinned_layers`)."""
    scale: float = field(init=False)
    scales: dict[tuple, float] = field(init=False)
    """Median ratio measured / analytical per contraction `geometry`, both less the model's
    epilogue price (`scaled`)."""
    loop_scales: dict[tuple, float] = field(init=False)
    """The same ratio per contraction `geometry` and schedule (`loops`)."""
    algorithm_layers: dict[tuple[int, ...], tuple[Schedule, float]] = field(init=False)
    """Per (input, weight) e-classes of a layer whose held workloads have no verdict (none
    pinning their geometry), the algorithm they all run by default and its slowest price among
    them (`_algorithm_layers`)."""

    def __post_init__(self) -> None:
        self.times = self.records.measured(self.device)
        self.failed = self.records.failed(self.device)
        self.pinned = self.records.pinned(self.device)
        workloads = {r.workload.key: r.workload for r in self.records}
        self.held = {key for key, _ in self.times} - self.records.free
        self.held_layers = {layer_of(workloads[key]) for key in self.held}
        self.pinned_layers = pinned_layers(self.records, self.device)
        layers: dict[tuple, list[float]] = {}
        loops: dict[tuple, list[float]] = {}
        for (key, schedule), seconds in self.times.items():
            tiled = self._tiled_info(workloads[key], schedule)
            if tiled is None:
                continue
            modelled, epilogue = checked_cost(self.fallback, tiled), self._epilogue(tiled)
            if math.isfinite(modelled) and seconds > epilogue and modelled > epilogue:
                ratio = (seconds - epilogue) / (modelled - epilogue)
                layer = info_geometry(tiled)
                layers.setdefault(layer, []).append(ratio)
                loops.setdefault((layer, self._loops(tiled)), []).append(ratio)
        self.scales = {g: statistics.median(r) for g, r in layers.items()}
        self.loop_scales = {g: statistics.median(r) for g, r in loops.items()}
        self.scale = statistics.median([r for rs in layers.values() for r in rs]) if layers else 1.0
        self.algorithm_layers = self._algorithm_layers([workloads[key] for key in self.held - set(self.pinned)])

    @property
    def name(self) -> str:
        return f"measured({len(self.times)} kernels)+{self.fallback.name}"

    def node_cost(self, info: NodeInfo) -> float:
        """`seconds(info)`, times 1 + SWITCH_MARGIN for a schedule other than its workload's
        default, however priced (a scaled one too: else the same loops without the epilogue,
        scaled by that schedule's measured ratio, plus a separate pass undercut the measured
        fused kernel by the margin); PINNED_OUT for a schedule other than its verdict's; a plain
        conv2d of a held algorithm layer on other loops (`_off_algorithm`) at least what the
        layer's default costs, plus the margin."""
        found = workload_of(info, self.lanes)
        if found is None and self._off_algorithm(info):
            return max(self.seconds(info), self.algorithm_layers[_operand_pair(info)][1]) * (1.0 + SWITCH_MARGIN)
        if found is None:
            return self.seconds(info)
        if self._pinned_out(info, *found):
            return PINNED_OUT
        return self.seconds(info) * self._switch(*found)

    def _off_algorithm(self, info: NodeInfo) -> bool:
        """Whether `info`, a convolution without a workload (`workload_of`: a plain conv2d), is
        one of a layer in `algorithm_layers` (the same input and weight e-classes: that layer's
        own, not any of the same shapes) on other loops than that algorithm's. The held layer
        runs the algorithm as untuned, and its unfused variant on the direct loops (the plain
        conv2d and a separate epilogue pass, priced by the direct kernel's measured ratio) must
        not replace it: `node_cost` prices such a conv2d at least as the layer's slowest priced
        default, plus SWITCH_MARGIN. Not inf: a layer without bias has no Winograd form, and its
        conv2d is all it can run. An e-node with a workload is priced by its workload
        (`_pinned_out`)."""
        if not self.algorithm_layers or info.op not in CONV_OPS:
            return False
        runs = self.algorithm_layers.get(_operand_pair(info))
        return runs is not None and self._loops(info) != frozenset(runs[0])

    def _pinned_out(self, info: NodeInfo, workload: Workload, schedule: Schedule) -> bool:
        """Whether a verdict pins another schedule of this workload; else whether every record of
        this schedule is an error (`failed`) and it is not the default; else whether the untuned
        program does not run the workload (`untuned`, where given) and the records do not leave it
        free; else whether a verdict pins, for a tiled e-node, another schedule of any workload of
        the same contraction (its unfused variant must not run the loops the verdict rejected,
        with the epilogue in a separate pass); or, with no verdict, whether a held workload
        (measured, not `Records.free`), or a tiled variant of a held workload's loops, runs other
        than its default."""
        tiled = info.op in TILED_OPS
        pinned = self.pinned.get(workload.key)
        if pinned is not None:
            return pinned != schedule
        if (workload.key, schedule) in self.failed and schedule != self._default(workload):
            return True
        if self.untuned is not None and workload.key not in self.untuned and workload.key not in self.records.free:
            return True
        pinned = self.pinned_layers.get(info_geometry(info)) if tiled else None
        if pinned is not None:
            return pinned != schedule
        held = workload.key in self.held or (
            workload.key not in self.records.free and tiled and info_geometry(info) in self.held_layers)
        if not held:
            return False
        default = self._default(workload)
        return default is not None and default != schedule

    def seconds(self, info: NodeInfo) -> float:
        """What `source(info)` says `info` takes."""
        match self.source(info):
            case "measured":
                found = workload_of(info, self.lanes)
                assert found is not None
                return self.times[(found[0].key, found[1])]
            case "learned":
                found = workload_of(info, self.lanes)
                assert found is not None and self.learned is not None
                return float(self.learned(*found))  # type: ignore[arg-type]
            case "model x scale":
                return self.scaled(info)
            case _:
                return checked_cost(self.fallback, info)

    def source(self, info: NodeInfo) -> str:
        """What prices `info`: MEASURED, LEARNED (an unmeasured schedule of a workload the learned
        model prices), SCALED (another contraction) or MODEL."""
        found = workload_of(info, self.lanes)
        if found is not None and (found[0].key, found[1]) in self.times:
            return MEASURED
        if found is not None and self.learned is not None and self.learned(*found) is not None:
            return LEARNED
        if not info.constant and _blocked(info, self.lanes):
            return SCALED
        return MODEL

    def _algorithm_layers(self, held: list[Workload]) -> dict[tuple[int, ...], tuple[Schedule, float]]:
        """Per (input, weight) e-classes of the `held` workloads' e-nodes (`layers`), their
        default where every one of them there has the same and it is an algorithm
        (`records.is_algorithm`: Winograd or the channels-in-lanes kernel), and no verdict pins
        their geometry; with the slowest price of that default among them (`seconds`: measured,
        else predicted or scaled), since the layer's plain conv2d may stand for any of them."""
        defaults: dict[tuple[int, ...], set[Schedule | None]] = {}
        seconds: dict[tuple[int, ...], list[float]] = {}
        for workload in held:
            if layer_of(workload) in self.pinned_layers:
                continue
            default = self._default(workload)
            kernel = None if default is None else self._tiled_info(workload, default)
            for pair in self.layers.get(workload.key, ()):
                defaults.setdefault(pair, set()).add(default)
                seconds.setdefault(pair, []).append(0.0 if kernel is None else self.seconds(kernel))
        found = {}
        for pair, schedules in defaults.items():
            runs = next(iter(schedules)) if len(schedules) == 1 else None
            if runs is not None and is_algorithm(runs):
                found[pair] = (runs, max(seconds[pair]))
        return found

    def _switch(self, workload: Workload, schedule: Schedule) -> float:
        """1 + SWITCH_MARGIN for a schedule other than the workload's default (`_default`: what
        it runs untuned), else 1."""
        return 1.0 if self._default(workload) == schedule else 1.0 + SWITCH_MARGIN

    def _default(self, workload: Workload) -> Schedule | None:
        """The schedule `workload` runs until a verdict switches it (`algorithms.held_default`):
        `untuned`'s where given and not `failed`, else the model's pick among the untiled
        kernel's and its `alternatives` that did not fail (None where it has none), derived once per
        workload: extraction asks for it at every priced e-node."""
        key = workload.key
        if key not in self.defaults:
            ran = None if self.untuned is None else self.untuned.get(key)
            self.defaults[key] = held_default(workload, self.lanes, self.fallback, self.alternatives.get(key, ()),
                                              ran, self.failed)
        return self.defaults[key]

    def scaled(self, info: NodeInfo) -> float:
        """The analytical price of a contraction's loops times the ratio of the measurements of
        the same loops (see the module docstring), plus the model's price of its epilogue."""
        layer = info_geometry(info)
        ratio = self.loop_scales.get((layer, self._loops(info)), self.scales.get(layer, self.scale))
        modelled, epilogue = checked_cost(self.fallback, info), self._epilogue(info)
        return (modelled - epilogue) * ratio + epilogue

    def _epilogue(self, info: NodeInfo) -> float:
        share = getattr(self.fallback, "epilogue_seconds", None)
        return 0.0 if share is None else min(share(info), checked_cost(self.fallback, info))

    def _loops(self, info: NodeInfo) -> frozenset | None:
        """The schedule `info` runs (the kernel and its blocking), or None on the generic loops."""
        constant = tuple(info.operand_constant(i) for i in range(len(info.operands)))
        schedule = blocked_schedule(info.op, info.attrs, info.type, info.operands, constant, self.lanes)
        return None if schedule is None else frozenset(schedule.items())

    @staticmethod
    def _tiled_info(workload: Workload, schedule: Schedule) -> NodeInfo | None:
        """The `NodeInfo` of the e-node that runs `workload` with `schedule` (its scheduling op,
        or an algorithm's own: `algorithms.scheduled_info`), or None if it does not fit."""
        try:
            info = scheduled_info(workload, schedule)
            info.op.infer(info.op, list(info.operands), dict(info.attrs))
        except (FrittataTypeError, KeyError):
            return None
        return info


def with_recorded_schedules(data: EGraphData, records: Records, device: str, lanes: int) -> EGraphData:
    """`data` with a tiled e-node of the best recorded schedule beside each schedulable e-node
    whose workload has one (and no e-node of that schedule already); TuningError if a recorded
    schedule does not fit its workload."""
    best = records.best(device)
    constant = constant_classes(data)
    present = {(n.op, n.attrs, n.children) for n in data.nodes}
    added: list[ENode] = []
    for enode in data.nodes:
        info = enode_info(data, enode, constant)
        found = workload_of(info, lanes)
        if found is None or found[0].key not in best:
            continue
        record = best[found[0].key]
        if is_algorithm(record.schedule):  # its e-node is the rules' own (Winograd) or the untiled one
            continue
        tiled = TILED_OF[BY_NAME[record.workload.op]]
        attrs = tiled.canonical(dict(record.workload.attrs) | {"schedule": record.schedule}, info.operands[0])
        candidate = ENode(tiled, attrs, enode.children, enode.eclass)
        if (tiled, attrs, enode.children) in present:
            continue
        _check_schedule(tiled, info, attrs, record.workload)
        present.add((tiled, attrs, enode.children))
        added.append(candidate)
    if not added:
        return data
    nodes = data.nodes + tuple(added)
    members = [list(c.nodes) for c in data.classes]
    for i, enode in enumerate(added, len(data.nodes)):
        members[enode.eclass].append(i)
    classes = tuple(EClass(c.type, tuple(m)) for c, m in zip(data.classes, members))
    return replace(data, nodes=nodes, classes=classes)


def untuned_schedules(data: EGraphData, choice: Choice, lanes: int) -> dict[str, Schedule]:
    """Per workload key, the schedule the chosen e-nodes of `choice` run it with (the first)."""
    constant = constant_classes(data)
    found: dict[str, Schedule] = {}
    for n in chosen_nodes(data, choice):
        known = workload_of(enode_info(data, data.nodes[n], constant), lanes)
        if known is not None:
            found.setdefault(known[0].key, known[1])
    return found


def operand_classes(data: EGraphData, lanes: int) -> dict[str, frozenset[tuple[int, ...]]]:
    """Per workload key, the (input, weight) e-classes of its e-nodes in `data`: the layers of the
    program that run it (two layers of the same shapes share a workload, not these)."""
    constant = constant_classes(data)
    found: dict[str, set[tuple[int, ...]]] = {}
    for enode in data.nodes:
        info = enode_info(data, enode, constant)
        known = workload_of(info, lanes)
        if known is not None:
            found.setdefault(known[0].key, set()).add(_operand_pair(info))
    return {key: frozenset(pairs) for key, pairs in found.items()}


def _operand_pair(info: NodeInfo) -> tuple[int, ...]:
    """The (input, weight) e-classes of a contraction e-node (empty outside an e-graph)."""
    return info.children[:2]


def schedules_in(data: EGraphData, lanes: int) -> dict[str, tuple[Schedule, ...]]:
    """Per workload key, the schedules of its e-nodes in `data` (tiled, untiled, algorithms') that
    run vectors of `lanes` (the depthwise kernel's: of `depthwise_schedules.depthwise_vector`'s
    width), or have no "vec" key: the tiling rules propose rows of both ISAs'
    widths (8 and 16 fp32 lanes), and tuned on an AVX2 host the 16-lane ones cost trials and
    never run there. The one list of a workload's schedules: the tuner's proposed ones
    (`tasks.tasks_of`) and those a compile with records picks its default from (`MeasuredCost`)."""
    constant = constant_classes(data)
    found: dict[str, dict[Schedule, None]] = {}
    for enode in data.nodes:
        info = enode_info(data, enode, constant)
        known = workload_of(info, lanes)
        if known is not None and dict(known[1]).get("vec", lanes) == _host_vector(info, dict(known[1]), lanes):
            found.setdefault(known[0].key, {})[known[1]] = None
    return {key: tuple(schedules) for key, schedules in found.items()}


def _host_vector(info: NodeInfo, schedule: dict[str, Any], lanes: int) -> int:
    """The lanes of the vectors `schedule` runs for `info` on a host of `lanes`: the host's, or
    for the depthwise kernel's (the one with row blocks, `tiled.DEPTHWISE_KEYS`) the width its
    default takes (`depthwise_schedules.depthwise_vector`)."""
    return depthwise_vector(info.type.shape[3], lanes) if "oh_block" in schedule else lanes


GEOMETRY_ATTRS = ("strides", "pads", "dilations", "groups")


def geometry(op: Op, shapes: tuple[tuple[int, ...], ...], attrs: tuple[tuple[str, Any], ...]) -> tuple:
    """What a contraction computes whatever its epilogue, bias, fusion or tiling: convolution or
    dense (else the op itself), input and weight shapes, convolution attributes."""
    family = "conv2d" if op in CONV_OPS else "dense" if op in DENSE_OPS else op.value
    values = dict(attrs)
    return (family, shapes[:2], tuple((k, values.get(k)) for k in GEOMETRY_ATTRS))


def info_geometry(info: NodeInfo) -> tuple:
    """The `geometry` of the contraction `info` is."""
    return geometry(info.op, tuple(t.shape for t in info.operands), info.attrs)


def layer_of(workload: Workload) -> tuple:
    """The `geometry` of `workload`'s contraction."""
    return info_geometry(infer_output(workload))


def pinned_layers(records: Records, device: str) -> dict[tuple, Schedule]:
    """Per contraction `geometry`, the schedule the verdicts on `device` pin for its workloads
    (`Records.pinned`), where they all pin the same one. Where two workloads of one geometry (a
    3x3 convolution + ReLU and the same one + residual add + ReLU) are pinned to different
    schedules, the geometry is pinned by neither: each workload keeps its own pin only."""
    workloads = {v.workload.key: v.workload for v in records.verdicts}
    schedules: dict[tuple, set[Schedule]] = {}
    for key, schedule in records.pinned(device).items():
        schedules.setdefault(layer_of(workloads[key]), set()).add(schedule)
    return {layer: next(iter(found)) for layer, found in schedules.items() if len(found) == 1}


def _blocked(info: NodeInfo, lanes: int) -> bool:
    """Whether `info` runs on a vectorized contraction kernel, whose measured times the tuner's
    measurements scale (the register-blocked GEMM / convolution, depthwise, Winograd or int8
    kernel), or is a bit-serial contraction."""
    if info.op in SCHEDULED_IN_PLACE:
        return True
    constant = tuple(info.operand_constant(i) for i in range(len(info.operands)))
    schedule = blocked_schedule(info.op, info.attrs, info.type, info.operands, constant, lanes)
    return schedule is not None


def _check_schedule(tiled, info: NodeInfo, attrs: tuple, workload: Workload) -> None:
    try:
        tiled.infer(tiled, list(info.operands), dict(attrs))
    except FrittataTypeError as problem:
        raise TuningError(f"tuning record for {workload} ({workload.key}): expected a schedule that fits the "
                          f"workload, got {dict(attrs)['schedule']} ({problem})") from None


def pricing(data: EGraphData, choice: Choice, model: MeasuredCost) -> list[dict]:
    """For each chosen contraction kernel: what it is, the schedule it runs ("default" for a
    kernel without one: the generic loops), its cost and what priced it."""
    constant = constant_classes(data)
    rows = []
    for n in chosen_nodes(data, choice):
        enode = data.nodes[n]
        info = enode_info(data, enode, constant)
        source = model.source(info)
        if source == MODEL:
            continue
        found = workload_of(info, model.lanes)  # the schedule it runs: its own, its algorithm's or its default
        schedule = found[1] if found is not None else dict(info.attrs).get("schedule")
        rows.append({"kernel": f"{enode.op.value} {info.type}", "schedule": dict(schedule) if schedule else "default",
                     "seconds": model.seconds(info), "priced_by": source})
    return rows
