"""Tuning records: measured run times of candidate kernels, one JSON object per line.

A record says how long one *workload* (a fused contraction the tiling rules can schedule: its
operator, operand types, which operands are compile-time constants and its attributes) ran
with one *schedule* on one *device*, or why it could not run. A line is

    {"version": 1, "workload": {"op": "fused_conv2d", "operands": [[[1, 64, 56, 56], "float32"], ...],
     "constant": [false, true, true], "attrs": [["strides", [1, 1]], ...]},
     "schedule": [["vec", 8], ["oc_block", 6], ...], "device": "llvm/znver3/8-lanes/2-threads/1a2b3c4d",
     "target": {"cpu": "znver3", "cpu_name": "AMD EPYC ...", "features": "+avx2,...", "lanes": 8, "threads": 2},
     "seconds": 0.00412, "error": null, "timestamp": 1764700000.0}

`seconds` is the shortest of the timed runs less the call overhead of a module; a record with an
`error` (build failure, crash, timeout, wrong result) has `seconds` null. The device key names
everything a measurement depends on (LLVM's CPU name, vector lanes, threads, a hash of the CPU
features), so records measured on one machine price kernels on any machine of the same kind.

A log may also hold *verdicts*, lines `{"version": 1, "verdict": {...}}`: the outcome of timing
a workload's best schedule against its default inside the compiled network (`Verdict`; the
tuner's in-network check). A verdict pins the schedule its workload runs on its device:
`Records.pinned` gives it, `Records.best` answers with it, and measured-cost extraction prices
the workload's other schedules out. The latest verdict of a workload counts, among those whose
pinned schedule has a successful record of the workload on the verdict's device. A measured
workload without a decided verdict runs its default schedule (what the untuned program runs:
`algorithms.untuned_schedule`, a Winograd form or a tiling row included), however fast another
measured alone, except in the in-network check's tuned compile, whose candidates are
`Records.free`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from frittata.errors import TuningError
from frittata.extract.cost import NodeInfo
from frittata.terms.bitserial import SCHEDULE_KEYS as BITSERIAL_KEYS
from frittata.terms.bitserial_schedules import bitserial_schedule, uses_tables
from frittata.terms.cpu_schedules import (CHANNEL_GEMM, LANES_CONV, WINOGRAD, blocked_schedule, has_own_kernel,
                                         is_depthwise, is_pixel_gemm, kernel_of)
from frittata.terms.dtypes import TensorType
from frittata.terms.ops import BY_NAME, Op
from frittata.terms.tiled import CHANNEL_GEMM_KEYS, DEPTHWISE_KEYS, PIXEL_GEMM_KEYS, UNTILED, normalize_schedule

RECORD_VERSION = 1
MIN_GAIN = 0.02
"""The smallest in-place gain worth a switch from the schedule a workload runs (2%)."""
MIN_PAIRS = 10
"""Paired ratios before a verdict decides anything (a quartile of fewer says little)."""
SCHEDULED_IN_PLACE = frozenset({Op.BITSERIAL_CONV2D, Op.BITSERIAL_DENSE})
"""Contractions whose schedule is an attribute of their own (the bit-serial ones)."""
TILED_OF = {plain: tiled for tiled, plain in UNTILED.items()} | {op: op for op in SCHEDULED_IN_PLACE}
"""The op scheduling each contraction: a fused one's tiled op, a bit-serial one itself."""
ALGORITHM_KERNELS = frozenset({WINOGRAD, LANES_CONV})
"""Kernels that compute a `fused_conv2d` by another algorithm than the direct convolution and
whose schedule no tiled op spells: Winograd (a `winograd_conv2d` e-node of the layer's e-class,
from the algorithm rules) and the channels-in-lanes kernel (the untiled strided layer's own).
Their schedules are schedules of the convolution's workload beside the direct kernel's."""

Schedule = tuple[tuple[str, Any], ...]


def _frozen(value: Any) -> Any:
    """JSON lists back into the tuples terms use for attribute values."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


@dataclass(frozen=True)
class Workload:
    """One fused contraction as a kernel sees it; `key` identifies it across runs and machines."""

    op: str
    operands: tuple[tuple[tuple[int, ...], str], ...]
    constant: tuple[bool, ...]
    attrs: tuple[tuple[str, Any], ...]

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]

    @property
    def operand_types(self) -> tuple[TensorType, ...]:
        return tuple(TensorType(shape, dtype) for shape, dtype in self.operands)

    def to_json(self) -> dict:
        return {"op": self.op, "operands": [[list(s), d] for s, d in self.operands],
                "constant": list(self.constant), "attrs": [[k, v] for k, v in self.attrs]}

    @classmethod
    def from_json(cls, data: dict) -> Workload:
        return cls(str(data["op"]), tuple((tuple(int(n) for n in s), str(d)) for s, d in data["operands"]),
                   tuple(bool(c) for c in data["constant"]), tuple((str(k), _frozen(v)) for k, v in data["attrs"]))

    def __str__(self) -> str:
        shapes = " ".join("x".join(map(str, s)) for s, _ in self.operands)
        steps = "+".join(str(step[0]) for step in dict(self.attrs).get("epilogue", ()))
        return f"{self.op}[{shapes}]" + (f"+{steps}" if steps else "")


def workload_of(info: NodeInfo, lanes: int) -> tuple[Workload, Schedule] | None:
    """The workload of a schedulable contraction e-node and the schedule it runs with (a tiled
    node's own, the default of an untiled one), or None for any other e-node.

    Schedulable: a `fused_conv2d` with one group or a `fused_dense` (or their tiled forms) that
    takes the register-blocked path (`cpu_schedules.blocked_schedule`) on a host of `lanes`; a
    depthwise `fused_conv2d` (groups = C, or its tiled form: the depthwise kernel's rows and
    vectors, `tiled.DEPTHWISE_KEYS`); a pointwise one on the pixel GEMM (its blocks,
    `tiled.PIXEL_GEMM_KEYS`) or the channel GEMM (its blocks, `tiled.CHANNEL_GEMM_KEYS`); not a
    kernel of its own otherwise (int8); an algorithm alternative of a `fused_conv2d`
    (`ALGORITHM_KERNELS`: a `winograd_conv2d`, whose workload is the `fused_conv2d` it computes,
    its `tile` in the schedule, or an untiled strided convolution on the channels-in-lanes
    kernel) with the kernel's schedule, so the algorithms of one layer are schedules of one
    workload, measured and priced alike (`algorithms.scheduled_info` builds each); a bit-serial
    contraction with constant weights (its register block, `bitserial_schedules.bitserial_schedule`),
    except an untiled one on AVX2's table kernel (`bitserial_schedules.uses_tables`): an explicit
    schedule runs the nibble kernel, so no candidate measures the table kernel, and it is priced
    by the model instead.
    """
    plain_op = Op.FUSED_CONV2D if info.op == Op.WINOGRAD_CONV2D else UNTILED.get(info.op, info.op)
    if plain_op not in TILED_OF or info.constant:
        return None
    constant = tuple(info.operand_constant(i) for i in range(len(info.operands)))
    own = ("schedule", "tile") if info.op == Op.WINOGRAD_CONV2D else ("schedule",)
    attrs = tuple((k, v) for k, v in info.attrs if k not in own)
    operands = tuple((t.shape, t.dtype) for t in info.operands)
    if plain_op in SCHEDULED_IN_PLACE:
        if not constant[1] or uses_tables(info.op, info.attrs, info.operands[0], info.operands[1], True, lanes):
            return None
        block = bitserial_schedule(info.op, info.attrs, info.operands[0], info.operands[1], True, lanes)
        return (Workload(plain_op.value, operands, constant, attrs),
                normalize_schedule((key, block[key]) for key in BITSERIAL_KEYS))
    schedule = blocked_schedule(info.op, info.attrs, info.type, info.operands, constant, lanes)
    if schedule is None:
        return None
    if is_depthwise(schedule):
        keys: Iterable[str] = DEPTHWISE_KEYS
    elif is_pixel_gemm(schedule):
        keys = PIXEL_GEMM_KEYS
    elif kernel_of(schedule) == CHANNEL_GEMM:
        keys = CHANNEL_GEMM_KEYS
    elif kernel_of(schedule) in ALGORITHM_KERNELS:
        keys = schedule.keys()
    elif has_own_kernel(schedule) or info.attr("groups", 1) != 1:
        return None
    else:
        keys = schedule.keys()
    return Workload(plain_op.value, operands, constant, attrs), normalize_schedule((k, schedule[k]) for k in keys)


def is_algorithm(schedule: Schedule) -> bool:
    """Whether `schedule` runs one of the `ALGORITHM_KERNELS` (no tiled op spells it)."""
    return dict(schedule).get("kernel") in ALGORITHM_KERNELS


def is_depthwise_workload(workload: Workload) -> bool:
    """Whether `workload` is a depthwise convolution (groups = input channels > 1)."""
    return workload.op == "fused_conv2d" and 1 < dict(workload.attrs).get("groups", 1) == workload.operands[0][0][1]


@dataclass(frozen=True)
class Record:
    """One measurement (see the module docstring); `ok` when it has a time, not an error."""

    workload: Workload
    schedule: Schedule
    device: str
    target: dict
    seconds: float | None
    error: str | None
    timestamp: float
    version: int = RECORD_VERSION

    @property
    def ok(self) -> bool:
        return self.error is None and self.seconds is not None

    def to_json(self) -> dict:
        return {"version": self.version, "workload": self.workload.to_json(),
                "schedule": [[k, v] for k, v in self.schedule], "device": self.device, "target": self.target,
                "seconds": self.seconds, "error": self.error, "timestamp": self.timestamp}

    @classmethod
    def from_json(cls, data: dict, where: str) -> Record:
        """A record from its JSON object; TuningError naming `where` if a field is missing or wrong."""
        try:
            version = int(data["version"])
            if version != RECORD_VERSION:
                raise TuningError(f"{where}: expected record version {RECORD_VERSION}, got {version}")
            seconds = None if data["seconds"] is None else float(data["seconds"])
            error = None if data["error"] is None else str(data["error"])
            if (seconds is None) == (error is None) or (seconds is not None and not seconds >= 0):
                raise TuningError(f"{where}: expected seconds >= 0 or an error (one of them), got "
                                  f"seconds={data['seconds']!r} error={data['error']!r}")
            return cls(Workload.from_json(data["workload"]), normalize_schedule(data["schedule"]),
                       str(data["device"]), dict(data["target"]), seconds, error, float(data["timestamp"]), version)
        except (KeyError, TypeError, ValueError) as problem:
            raise TuningError(f"{where}: expected a tuning record (version, workload, schedule, device, target, "
                              f"seconds, error, timestamp), got {type(problem).__name__}: {problem}") from None


@dataclass(frozen=True)
class Verdict:
    """A workload's `candidate` schedule timed against its `default` (the schedule it ran before:
    the one an earlier verdict pinned, else the untuned default) in the compiled network:
    `kept` when it won there; `gain` the median over paired rounds of the default's time / the
    candidate's, less 1; `noise` the half-width of that median's interval (`rounds` rounds)."""

    workload: Workload
    device: str
    candidate: Schedule
    default: Schedule
    kept: bool
    gain: float
    noise: float
    rounds: int
    timestamp: float
    version: int = RECORD_VERSION

    @property
    def decided(self) -> bool:
        """Whether the verdict's own figures decide: at least MIN_PAIRS rounds, finite gain and
        noise, and gain - noise > MIN_GAIN if kept, gain + noise < MIN_GAIN if not. The check logs
        decisions only; older logs also hold undecided outcomes (and checks stopped at 0 rounds,
        noise inf) as kept false, which this tells apart from rejections."""
        if self.rounds < MIN_PAIRS or not (math.isfinite(self.gain) and math.isfinite(self.noise)):
            return False
        return self.gain - self.noise > MIN_GAIN if self.kept else self.gain + self.noise < MIN_GAIN

    @property
    def schedule(self) -> Schedule:
        """The schedule the workload runs: the candidate if kept, else the default."""
        return self.candidate if self.kept else self.default

    def to_json(self) -> dict:
        return {"version": self.version, "verdict": {
            "workload": self.workload.to_json(), "device": self.device,
            "candidate": [[k, v] for k, v in self.candidate], "default": [[k, v] for k, v in self.default],
            "kept": self.kept, "gain": self.gain, "noise": self.noise, "rounds": self.rounds,
            "timestamp": self.timestamp}}

    @classmethod
    def from_json(cls, data: dict, where: str) -> Verdict:
        """A verdict from its JSON line; TuningError naming `where` if a field is missing or wrong."""
        try:
            version, body = int(data["version"]), data["verdict"]
            if version != RECORD_VERSION:
                raise TuningError(f"{where}: expected record version {RECORD_VERSION}, got {version}")
            return cls(Workload.from_json(body["workload"]), str(body["device"]),
                       normalize_schedule(body["candidate"]), normalize_schedule(body["default"]),
                       bool(body["kept"]), float(body["gain"]), float(body["noise"]), int(body["rounds"]),
                       float(body["timestamp"]), version)
        except (KeyError, TypeError, ValueError) as problem:
            raise TuningError(f"{where}: expected a verdict (workload, device, candidate, default, kept, gain, "
                              f"noise, rounds, timestamp), got {type(problem).__name__}: {problem}") from None


@dataclass
class Records:
    """An ordered collection of records and verdicts: load, append, merge, and the best per
    workload. Iterating yields the records (measurements) only."""

    records: list[Record] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    free: frozenset[str] = frozenset()
    """Workload keys whose measured schedules extraction may choose without a verdict (the
    in-network check's tuned compile; never saved): any other measured workload runs the schedule
    its decided verdict pins, else its default."""

    def __len__(self) -> int:
        return len(self.records)

    def by_workload(self, device: str | None = None) -> dict[str, list[Record]]:
        """The records by workload key (of `device` alone when given), each list in log order."""
        return by_workload(r for r in self.records if device is None or r.device == device)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    @classmethod
    def load(cls, path: str | Path) -> Records:
        """Every record and verdict of a JSONL file, gzip-compressed when its name ends in .gz
        (blank lines skipped); TuningError at `path:line` otherwise."""
        try:
            with _open(path, "r") as file:
                text = file.read()
        except (OSError, UnicodeDecodeError, EOFError) as problem:
            raise TuningError(f"tuning records: expected a readable JSONL file at {path}, got {problem}") from None
        found, verdicts = [], []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as problem:
                raise TuningError(f"{path}:{number}: expected one JSON object per line, got {problem}") from None
            if not isinstance(data, dict):
                raise TuningError(f"{path}:{number}: expected a JSON object, got {type(data).__name__}")
            if "verdict" in data:
                verdicts.append(Verdict.from_json(data, f"{path}:{number}"))
            else:
                found.append(Record.from_json(data, f"{path}:{number}"))
        return cls(found, verdicts)

    @classmethod
    def from_any(cls, source: Records | str | Path | Iterable[Record]) -> Records:
        """Records as given, or loaded from a path."""
        if isinstance(source, Records):
            return source
        if isinstance(source, (str, Path)):
            return cls.load(source)
        return cls(list(source))

    def digest(self) -> str:
        """A hash of the content (what the compile cache keys a compile with records by)."""
        text = "".join(json.dumps(line, sort_keys=True) + "\n" for line in self._lines())
        if self.free:
            text += json.dumps(sorted(self.free))
        return hashlib.sha256(text.encode()).hexdigest()

    def save(self, path: str | Path) -> None:
        with _open(path, "w") as file:
            file.write("".join(json.dumps(line) + "\n" for line in self._lines()))

    def _lines(self) -> list[dict]:
        """The JSON objects of the records, then of the verdicts."""
        return [r.to_json() for r in self.records] + [v.to_json() for v in self.verdicts]

    def append(self, record: Record | Verdict, path: str | Path | None = None) -> None:
        """Add `record` (or a verdict); with `path`, also append its line to that file (a run's log)."""
        if isinstance(record, Verdict):
            self.verdicts.append(record)
        else:
            self.records.append(record)
        if path is not None:
            with _open(path, "a") as log:
                log.write(json.dumps(record.to_json()) + "\n")

    def merge(self, *others: Records) -> Records:
        """These records and verdicts and the others', each record (workload, schedule, device,
        timestamp) and each verdict once. `free` is not merged (it belongs to one compile of the
        in-network check): the merged records leave no workload free."""
        seen, merged = set(), []
        for record in [*self.records, *(r for other in others for r in other)]:
            identity = (record.workload.key, record.schedule, record.device, record.timestamp)
            if identity not in seen:
                seen.add(identity)
                merged.append(record)
        verdicts = list(dict.fromkeys([*self.verdicts, *(v for other in others for v in other.verdicts)]))
        return Records(merged, verdicts)

    def pinned(self, device: str) -> dict[str, Schedule]:
        """Per workload key, the schedule its latest verdict on `device` says it runs. A verdict
        whose pinned schedule has no successful record of the workload on `device` is ignored
        (what it pins was never measured there, so `best` could not answer with it), and so is
        one that did not decide (`Verdict.decided`)."""
        measured = {(r.workload.key, r.schedule) for r in self.records if r.device == device and r.ok}
        return {v.workload.key: v.schedule for v in sorted(self.verdicts, key=lambda v: v.timestamp)
                if v.device == device and v.decided and (v.workload.key, v.schedule) in measured}

    def measured(self, device: str) -> dict[tuple[str, Schedule], float]:
        """(workload key, schedule) -> median seconds of its successful records on `device`."""
        times: dict[tuple[str, Schedule], list[float]] = {}
        for record in self.records:
            if record.device == device and record.ok:
                assert record.seconds is not None
                times.setdefault((record.workload.key, record.schedule), []).append(record.seconds)
        return {key: statistics.median(values) for key, values in times.items()}

    def tried(self, device: str) -> set[tuple[str, Schedule]]:
        """(workload key, schedule) of every record on `device`, failed ones included."""
        return {(r.workload.key, r.schedule) for r in self.records if r.device == device}

    def failed(self, device: str) -> set[tuple[str, Schedule]]:
        """(workload key, schedule) of every schedule whose records on `device` are all errors."""
        return self.tried(device) - set(self.measured(device))

    def best(self, device: str) -> dict[str, Record]:
        """Per workload key, the fastest successful record on `device` of the schedule whose
        median (`measured`, what extraction prices) is the shortest: a schedule measured again
        (the tuner's confirmation) is judged by its median, not by its luckiest run. A workload
        with a verdict: the fastest record of the schedule it pins."""
        medians, pinned = self.measured(device), self.pinned(device)
        best: dict[str, Record] = {}
        for record in self.records:
            key = record.workload.key
            if record.device != device or not record.ok or pinned.get(key, record.schedule) != record.schedule:
                continue
            held = best.get(key)
            ours, theirs = medians[key, record.schedule], None if held is None else medians[key, held.schedule]
            if theirs is None or (ours, record.seconds) < (theirs, held.seconds):  # type: ignore[union-attr]
                best[key] = record
        return best


def by_workload(records: Iterable[Record]) -> dict[str, list[Record]]:
    """`records` by workload key, in order of first appearance, each list in the given order."""
    groups: dict[str, list[Record]] = {}
    for record in records:
        groups.setdefault(record.workload.key, []).append(record)
    return groups


def infer_output(workload: Workload) -> NodeInfo:
    """The `NodeInfo` of an untiled e-node of `workload` (its output type from the operator)."""
    op = BY_NAME.get(workload.op)
    if op not in TILED_OF:
        raise TuningError(f"workload {workload.key}: expected an op in {sorted(o.value for o in TILED_OF)}, "
                          f"got {workload.op!r}")
    types = list(workload.operand_types)
    out = op.infer(op, types, dict(workload.attrs))
    return NodeInfo(op, workload.attrs, out, tuple(types), False, workload.constant)


def _open(path: str | Path, mode: str) -> IO[str]:
    """`path` opened as text in `mode` ("r", "w" or "a"), through gzip when its name ends in .gz
    (appending adds a gzip member, which readers take as the rest of the same stream)."""
    if str(path).endswith(".gz"):
        return cast(IO[str], gzip.open(path, mode + "t"))
    return open(path, mode)
