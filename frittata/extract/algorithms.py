"""Algorithm alternatives of a workload: which e-node runs a schedule, and which one runs untuned.

A convolution's algorithms are schedules of its one workload (`records.ALGORITHM_KERNELS`): the
direct kernel's blocks (the untiled op's default, a `tiled_conv2d`'s own), Winograd F(2x2) or
F(4x4) (a `winograd_conv2d` e-node the algorithm rules add beside it) and the channels-in-lanes
kernel (the untiled strided layer's default). So the tuner measures them as candidates of one
task, the records store them like any schedule, and measured-cost extraction prices each e-node
by its own measurement. `scheduled_info` is the e-node of a (workload, schedule);
`untuned_schedule` the one a compile without records runs: of the untiled op's default and the
schedules the e-graph holds (the tiling rules' rows, the algorithm alternatives), the one the
analytical model prices lowest, which is what analytical extraction picks between e-nodes of one
e-class with the same children. That is each workload's "default": the schedule a measured
workload keeps until the in-network check confirms another, unless every record of it is an
error (`held_default`). (The untiled kernel's default alone,
as before, differed from what the untuned program ran wherever the model priced a tiling row
lower: a tuned MobileNetV2 ran its three 32 -> 192 1x1 layers on c_block 32 split by pixels,
unconfirmed, where the untuned one ran c_block 64 split by channels.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from frittata.errors import FrittataTypeError
from frittata.extract.cost import CostModel, NodeInfo, checked_cost
from frittata.extract.records import TILED_OF, Schedule, Workload, infer_output, is_algorithm, workload_of
from frittata.terms.cpu_schedules import WINOGRAD
from frittata.terms.ops import Op


def scheduled_info(workload: Workload, schedule: Schedule) -> NodeInfo:
    """The `NodeInfo` of the e-node that runs `workload` with `schedule`: a `winograd_conv2d` of
    the schedule's tile for Winograd, the untiled op for the channels-in-lanes kernel (its
    default: no tiled op spells it), else the workload's tiled op with the schedule.
    FrittataTypeError for an algorithm schedule other than the one that e-node runs (its blocks
    are the e-node's own, not attributes: a record of other blocks was not measured on it)."""
    info = infer_output(workload)
    values = dict(schedule)
    if not is_algorithm(schedule):
        return replace(info, op=TILED_OF[info.op], attrs=info.attrs + (("schedule", schedule),))
    if values.get("kernel") == WINOGRAD:
        info = replace(info, op=Op.WINOGRAD_CONV2D, attrs=info.attrs + (("tile", values["tile"]),))
    found = workload_of(info, values["vec"])
    if found is None or found[1] != schedule:
        runs = "none" if found is None else dict(found[1])
        raise FrittataTypeError(f"{workload}: expected a schedule its {info.op.value} e-node runs ({runs}), "
                                f"got {values}")
    return info


def untuned_schedule(workload: Workload, lanes: int, model: CostModel,
                     alternatives: Iterable[Schedule] = ()) -> Schedule | None:
    """The schedule `workload` runs when compiled without records: of its untiled kernel's
    default (None where it has none) and the `alternatives` given (the schedules its e-graph
    holds: the tiling rules' rows, Winograd forms), the one `model`, the analytical model
    extraction uses, prices lowest; the first of them on a tie (the default first). The e-nodes
    of one layer share their children, so this is what extraction picks between them."""
    found = workload_of(infer_output(workload), lanes)
    default = None if found is None else found[1]
    options = [s for s in dict.fromkeys(alternatives) if s != default]
    if default is None or not options:
        return default
    priced = [(checked_cost(model, scheduled_info(workload, default)), 0, default)]
    priced += [(checked_cost(model, scheduled_info(workload, s)), i + 1, s) for i, s in enumerate(options)]
    return min(priced, key=lambda p: p[:2])[2]


def held_default(workload: Workload, lanes: int, model: CostModel, alternatives: Iterable[Schedule],
                 ran: Schedule | None, failed: set[tuple[str, Schedule]]) -> Schedule | None:
    """The schedule a measured workload runs until a verdict switches it: `ran`, what the untuned
    program runs (None where not known: `untuned_schedule` among the `alternatives`), unless every
    record of it is an error (`failed`: `Records.failed`); then the one the model prefers among the
    alternatives that did not fail, or the untiled kernel's default whatever its records (the
    kernel a compile always has to fall back on)."""
    if ran is not None and (workload.key, ran) not in failed:
        return ran
    return untuned_schedule(workload, lanes, model, [s for s in alternatives if (workload.key, s) not in failed])
