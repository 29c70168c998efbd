"""Tuning tasks: the distinct schedulable kernels of a saturated e-graph and their schedule spaces.

A task is one workload (`extract.records.Workload`: a fused contraction with its operand types,
constant operands and attributes); identical layers are one task. Its candidates are the
schedules the e-graph already holds for it of the target's vector width (the default schedule
of the untiled e-node, the rows of the tiling rules' table, and the algorithm rules'
alternatives: a 3x3 layer's Winograd forms, a strided layer's channels-in-lanes default), those
with the other parallel split axis, then the register-blocked space of the host:

  convolution  vec = host lanes; NV = 1..MAX_VECTORS vectors of output pixels (no more than the
               kernel's pixel row needs: a pointwise convolution's row is the whole OH x OW image,
               `cpu_geometry.pixel_rows`, so a 7x7 one has tiles of up to 4 vectors, not one);
               MR output channels from ROWS, with MR * NV accumulators + NV
               loaded vectors + 1 broadcast fitting the host's vector registers; input-channel
               blocks CB from C_BLOCKS (and C); both parallel loops. A pointwise convolution
               with constant weights also has the pixel GEMM's blocks: MR output pixels from
               ROWS (no more than the image has) by NV = 1..MAX_VECTORS vectors of output
               channels (no more than the channels need), fitting the vector registers as
               above; threads split the channel panels. An expanding one that runs the channel
               GEMM untiled (`cpu_schedules.takes_channel_gemm`) has that default among its
               proposed schedules (a `tiled_conv2d` spelling its blocks, `tiled.CHANNEL_GEMM_KEYS`),
               measured first beside the direct kernel's space; the GEMM's other blocks are not
               generated (the recorded replay tables hold the spaces without them).
  dense        the same register blocks over rows x columns; reduction blocks KC from K_BLOCKS
               (and K); both parallel loops.
  depthwise    vec = host lanes, or half of them where the default takes that
               (`depthwise_schedules.depthwise_vector`); tiles of RB output rows (DEPTHWISE_ROWS, no more
               than the output has) by NV = 1..MAX_VECTORS vectors of pixels (no more than the
               output row needs).
  bit-serial   tiles of P output pixels (PIXELS; 1 for dense) by M channel blocks (BLOCKS, no
               more than the output channels fill) whose accumulators, operands and tables fit
               the host's vector registers (`bitserial_schedules.bitserial_tile_registers`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from frittata.extract.algorithms import held_default, untuned_schedule
from frittata.extract.cpu_model import CpuModel
from frittata.extract.cpu_work import work
from frittata.extract.measured import schedules_in
from frittata.extract.problem import chosen_nodes, constant_classes, enode_info
from frittata.extract.records import (SCHEDULED_IN_PLACE, Records, Schedule, Workload, infer_output,
                                      is_depthwise_workload, workload_of)
from frittata.rewrites.data import EGraphData
from frittata.terms.bitserial_schedules import bitserial_tile_registers, uses_nibbles
from frittata.terms.cpu_geometry import pixel_rows, pointwise, registers_for
from frittata.terms.depthwise_schedules import depthwise_vector
from frittata.terms.ops import BY_NAME
from frittata.terms.program import Program
from frittata.tuning.device import Device
from frittata.terms.tiled import (CHANNEL_GEMM_KEYS, DEPTHWISE_KEYS, KEYS, MAX_DEPTHWISE_ROWS, MAX_VECTORS, PARALLEL,
                                  PIXEL_GEMM_KEYS, normalize_schedule)

ROWS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 24, 32)
C_BLOCKS = (8, 16, 32, 64, 128, 256)
K_BLOCKS = (64, 128, 256, 512)
PIXELS = (1, 2, 3, 4)
BLOCKS = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12)
DEPTHWISE_ROWS = tuple(range(1, MAX_DEPTHWISE_ROWS + 1))
"""Every row count the depthwise kernel takes: 7 divides every MobileNetV2 output (7..112 rows)."""


@dataclass(frozen=True)
class Task:
    """One workload to tune: its proposed schedules, how often it occurs, and its model price."""

    workload: Workload
    proposed: tuple[Schedule, ...]
    count: int
    flops: float
    model_seconds: float
    default: Schedule | None = None
    """The schedule a compile without records runs (`algorithms.untuned_schedule`: of the untiled
    kernel's and those the e-graph holds, the one the model prices lowest; None where it has none)."""
    in_program: bool = True
    """Whether the program the analytical extraction picks runs this workload (`program_tasks`
    says; False for the e-graph's other variants, e.g. a layer without its fused activation)."""

    def space(self, lanes: int) -> tuple[Schedule, ...]:
        """Every candidate schedule, the proposed ones first, each once, then each proposed one
        with the other parallel split axis (`with_every_axis`), then the generated space."""
        seen = dict.fromkeys(self.proposed)
        for schedule in self.proposed:
            seen.update(dict.fromkeys(with_every_axis(schedule, self.workload.op)))
        seen.update(dict.fromkeys(generated_space(self.workload, lanes)))
        return tuple(seen)

    @cached_property
    def first(self) -> tuple[Schedule, ...]:
        """The schedules measured before any search picks: the default (what runs untuned), the
        proposed ones, then the default with the other parallel split axis (`with_every_axis`)."""
        if self.default is None:
            return tuple(dict.fromkeys(self.proposed))
        twins = with_every_axis(self.default, self.workload.op)[1:]
        return tuple(dict.fromkeys((self.default, *self.proposed, *twins)))

    def __str__(self) -> str:
        return f"{self.workload} x{self.count}"


def held_defaults(tasks: list[Task], records: Records, device: str, lanes: int,
                  model: CpuModel | None = None) -> dict[str, Schedule | None]:
    """Per task's workload key, the schedule a compile with `records` keeps it on without a verdict
    (`algorithms.held_default`: its `default` unless every record of it on `device` is an error)."""
    model = model or CpuModel.for_host()
    failed = records.failed(device)
    return {t.workload.key: held_default(t.workload, lanes, model, t.proposed, t.default, failed) for t in tasks}


def program_tasks(program: Program, device: Device) -> list[Task]:
    """The tasks of `program`'s saturated e-graph, those its analytical extraction uses first."""
    from frittata.backends.registry import get_target
    from frittata.extract import extract
    from frittata.rewrites import saturate

    target = get_target("llvm")
    data, _ = saturate(program, schedule=target.schedule(), params=target.rule_params())
    tasks = tasks_of(data, device.lanes)
    choice, _ = extract(data, target.cost_model(), method="greedy")
    constant = constant_classes(data)
    used = set()
    for n in chosen_nodes(data, choice):
        found = workload_of(enode_info(data, data.nodes[n], constant), device.lanes)
        if found is not None:
            used.add(found[0].key)
    others = [replace(t, in_program=False) for t in tasks if t.workload.key not in used]
    return [t for t in tasks if t.workload.key in used] + others



def tasks_of(data: EGraphData, lanes: int, model: CpuModel | None = None) -> list[Task]:
    """The tasks of a saturated e-graph, costliest first (model seconds of the default schedule
    times the number of e-nodes of the workload); the proposed schedules are the e-graph's of
    the target's vector `lanes` (`measured.schedules_in`: the list a compile with records chooses
    a workload's default from too)."""
    model = model or CpuModel.for_host()
    constant = constant_classes(data)
    proposed = schedules_in(data, lanes)
    found: dict[str, tuple[Workload, list[int]]] = {}
    for enode in data.nodes:
        known = workload_of(enode_info(data, enode, constant), lanes)
        if known is None:
            continue
        entry = found.setdefault(known[0].key, (known[0], []))
        if enode.op.value == known[0].op:
            entry[1].append(enode.eclass)
    tasks = []
    for workload, classes in found.values():
        info, schedules = infer_output(workload), proposed.get(workload.key, ())
        tasks.append(Task(workload, schedules, max(1, len(set(classes))),
                          work(info, model.transcendental_flops, lanes).flops, model.node_cost(info),
                          untuned_schedule(workload, lanes, model, schedules)))
    return sorted(tasks, key=lambda t: (-t.model_seconds * t.count, t.workload.key))


def generated_space(workload: Workload, lanes: int) -> list[Schedule]:
    """The host's register-blocked schedules of `workload` (see the module docstring)."""
    if BY_NAME[workload.op] in SCHEDULED_IN_PLACE:
        return bitserial_space(workload, lanes)
    info = infer_output(workload)
    if is_depthwise_workload(workload):
        return depthwise_space(info.type.shape[2], info.type.shape[3], lanes)
    conv = workload.op == "fused_conv2d"
    if conv:
        rows, cols, depth = info.type.shape[1], info.type.shape[3], info.operands[0].shape[1]
        row_pixels = pixel_rows(info.type, info.operands[1].shape[2:], dict(workload.attrs))[1]
        blocks: tuple[int, ...] = C_BLOCKS
    else:
        cols = row_pixels = info.type.shape[-1]
        rows, depth = info.type.size // max(cols, 1), info.operands[0].shape[-1]
        blocks = K_BLOCKS
    depths = sorted({b for b in blocks if b < depth} | {depth})
    tiled = "tiled_conv2d" if conv else "tiled_dense"
    space = []
    for nv, mr in register_blocks(rows, row_pixels, lanes):
        for kc in depths:
            for parallel in PARALLEL[tiled]:
                space.append(_schedule(tiled, lanes, mr, rows, nv * lanes, cols, kc, depth, parallel))
    if conv and workload.constant[1] and pointwise(info.operands[1].shape[2:], dict(workload.attrs)):
        space += pixel_gemm_space(info.type.shape[2] * info.type.shape[3], rows, lanes)
    return space


def with_every_axis(schedule: Schedule, op: str) -> list[Schedule]:
    """A direct-convolution or dense schedule with each of its op's parallel split axes (itself
    first); any other schedule alone (a pointwise convolution's channel GEMM, whose schedule
    spells a dense layer's blocks, `op` "fused_conv2d", takes one: it packs its panels at run
    time with the threads splitting them). The analytical default picks one axis by a rule the machine
    may not follow: one Zen 3 core ran 3-channel stems (3 -> 96 7x7 stride 2 at 224x224, 3 -> 32
    3x3 stride 2) 17-24% faster split over output channels than over the pixels it chose, with
    the same blocks, whose channel block the generated space need not hold."""
    keys = tuple(k for k, _ in schedule)
    tiled = next((name for name, op_keys in KEYS.items() if op_keys == keys), None)
    if tiled is None or (keys == CHANNEL_GEMM_KEYS and op == "fused_conv2d"):
        return [schedule]
    current = dict(schedule)["parallel"]
    axes = [current] + [axis for axis in PARALLEL[tiled] if axis != current]
    return [tuple((k, axis if k == "parallel" else v) for k, v in schedule) for axis in axes]


def pixel_gemm_space(pixels: int, channels: int, lanes: int) -> list[Schedule]:
    """The pixel GEMM's blocks of a pointwise convolution of `pixels` output pixels and
    `channels` output channels (see the module docstring)."""
    space = []
    for nv, mr in register_blocks(pixels, channels, lanes):
        nr = nv * lanes
        values = {"vec": lanes, "m_block": mr, "m_tail": pixels % mr, "n_block": nr, "n_tail": channels % nr,
                  "parallel": "n"}
        space.append(tuple((key, values[key]) for key in PIXEL_GEMM_KEYS))
    return space


def depthwise_space(oh: int, ow: int, lanes: int) -> list[Schedule]:
    """The depthwise kernel's tiles of an OH x OW output (see the module docstring)."""
    space = []
    vec = depthwise_vector(ow, lanes)
    for nv in range(1, MAX_VECTORS + 1):
        if nv > 1 and (nv - 1) * vec >= ow:
            break
        for rb in DEPTHWISE_ROWS:
            if rb <= max(oh, 1):
                values = {"vec": vec, "oh_block": rb, "oh_tail": oh % rb, "ow_block": nv * vec,
                          "ow_tail": ow % (nv * vec), "parallel": "channel"}
                space.append(tuple((key, values[key]) for key in DEPTHWISE_KEYS))
    return space


def bitserial_space(workload: Workload, lanes: int) -> list[Schedule]:
    """The tiles of a bit-serial workload that fit the host's vector registers."""
    x, w = workload.operand_types[:2]
    a, b = x.shape[-2], w.shape[-2]
    nibbles = uses_nibbles(lanes, x.dtype, workload.constant[1])
    channel_blocks = -(-w.shape[0] // max(1, lanes // 2))
    pixels = PIXELS if workload.op == "bitserial_conv2d" else (1,)
    space = []
    for p in pixels:
        for m in BLOCKS:
            if m <= channel_blocks and bitserial_tile_registers(a, b, p, m, nibbles) <= registers_for(lanes):
                space.append(normalize_schedule((("pixels", p), ("blocks", m))))
    return space


def register_blocks(rows: int, cols: int, lanes: int) -> list[tuple[int, int]]:
    """(vectors, rows) of the register blocks that fit the host's vector registers."""
    registers = registers_for(lanes)
    blocks = []
    for nv in range(1, MAX_VECTORS + 1):
        if nv > 1 and (nv - 1) * lanes >= cols:
            break
        for mr in ROWS:
            if mr * nv + nv + 1 <= registers and mr <= max(rows, 1):
                blocks.append((nv, mr))
    return blocks


def _schedule(tiled: str, vec: int, mr: int, rows: int, nr: int, cols: int, kc: int, depth: int,
              parallel: str) -> Schedule:
    if tiled == "tiled_conv2d":
        values: dict[str, Any] = {"vec": vec, "oc_block": mr, "oc_tail": rows % mr, "ow_block": nr,
                                  "ow_tail": cols % nr, "c_block": kc, "c_tail": depth % kc, "parallel": parallel}
    else:
        values = {"vec": vec, "m_block": mr, "m_tail": rows % mr, "n_block": nr, "n_tail": cols % nr,
                  "k_block": kc, "parallel": parallel}
    return tuple((key, values[key]) for key in KEYS[tiled])


def gflops(task: Task, seconds: float) -> float:
    """Throughput of one run of the task's kernel in `seconds`."""
    return task.flops / seconds / 1e9 if seconds > 0 else math.inf
