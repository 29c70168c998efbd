"""The per-layer report of a VTA module's last run, for a hardware engineer.

One row per layer (every contraction of the compiled program: convolutions and dense layers),
in program order: where it ran (VTA or the host CPU) and why, and what it cost there.  A VTA
row carries the simulator's counters of that call: cycles, GEMM utilization (non-reset GEMM
micro-ops per cycle; 1.0 = every cycle a full BATCH x BLOCK_IN x BLOCK_OUT matrix product) and
the bytes each instruction module moved, and its time at the configuration's clock.  A host
row carries the host CPU model's seconds (the board's CPU, by default the Pynq-Z1's Cortex-A9,
not the compiling machine).  Why a layer is on the host: the extractor's reason when its VTA
form could not be lowered for the configuration, else that its operands are float (VTA
computes int8 only), that it has several groups (a depthwise conv) or that the cost model
priced the host cheaper.

End to end: the simulated accelerator time (every call's cycles at the clock) plus the host
model's time for every other op (layouts, pooling, residual adds, the host's layers), and the
host's share of the sum.  Calls run one after another, so the two add up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from frittata.backends.vta.hw.config import VtaConfig
from frittata.errors import RuntimeInputError
from frittata.terms.ops import Cost, Op
from frittata.terms.term import Term

if TYPE_CHECKING:
    from frittata.backends.vta.module import VtaModule

CALLS = (Op.VTA_DENSE, Op.VTA_CONV2D)
LEAVES = (Op.INPUT, Op.PARAM, Op.CONST)


@dataclass(frozen=True)
class LayerRow:
    """One layer: `where` is "vta" or "cpu"; `seconds` the simulated time at the clock (VTA)
    or the host model's (CPU); the counters are None on the host."""

    op: str
    shape: str
    where: str
    why: str
    seconds: float
    cycles: int | None = None
    gemm_utilization: float | None = None
    moved: Mapping[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "shape": self.shape, "where": self.where, "why": self.why,
                "ms": self.seconds * 1e3, "cycles": self.cycles, "gemm_utilization": self.gemm_utilization,
                "moved": None if self.moved is None else dict(self.moved)}


@dataclass(frozen=True)
class LayerReport:
    """The layers of one run (see the module docstring); print it for a table."""

    config: str
    clock_hz: float
    host: str
    rows: tuple[LayerRow, ...]
    vta_seconds: float
    host_seconds: float
    host_ops: tuple[tuple[str, float], ...] = ()
    """The host model's seconds per op kind, largest first."""

    @property
    def seconds(self) -> float:
        """End-to-end simulated latency: accelerator plus host."""
        return self.vta_seconds + self.host_seconds

    @property
    def host_share(self) -> float:
        return self.host_seconds / self.seconds if self.seconds else 0.0

    @property
    def cycles(self) -> int:
        return sum(r.cycles or 0 for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config, "clock_hz": self.clock_hz, "host": self.host,
                "ms": self.seconds * 1e3, "vta_ms": self.vta_seconds * 1e3, "host_ms": self.host_seconds * 1e3,
                "host_share": self.host_share, "host_ops_ms": {op: t * 1e3 for op, t in self.host_ops},
                "cycles": self.cycles, "layers": [r.to_dict() for r in self.rows]}

    def __str__(self) -> str:
        lines = [f"layers on VTA {self.config} at {self.clock_hz / 1e6:g} MHz, host {self.host} (modeled)",
                 f"{'#':>3} {'op':<12} {'shape':<36} {'on':<4} {'ms':>8} {'cycles':>10} {'GEMM':>6} "
                 f"{'load B':>9} {'compute B':>9} {'store B':>9}  why"]
        for i, r in enumerate(self.rows):
            moved = r.moved or {}
            counters = ("" if r.cycles is None else f"{r.cycles:>10} {r.gemm_utilization:6.1%} "
                        f"{moved.get('load', 0):>9} {moved.get('compute', 0):>9} {moved.get('store', 0):>9}")
            lines.append(f"{i:>3} {r.op[:12]:<12} {r.shape[:36]:<36} {r.where:<4} {r.seconds * 1e3:8.3f} "
                         f"{counters:<57}  {r.why}")
        lines.append(f"end to end: {self.seconds * 1e3:.3f} ms = VTA {self.vta_seconds * 1e3:.3f} ms "
                     f"({self.cycles} cycles) + host {self.host_seconds * 1e3:.3f} ms "
                     f"(host share {self.host_share:.1%})")
        lines.append("host by op: " + ", ".join(f"{op} {t * 1e3:.3f} ms" for op, t in self.host_ops))
        return "\n".join(lines)


def layer_report(module: VtaModule) -> LayerReport:
    """The report of `module`'s last run (`module.run` first); needs the program `compile`
    built the module from."""
    from frittata.backends.vta.cost import VtaCostModel
    from frittata.extract.cost import term_infos

    program, reports = module.program, module.last_reports
    if program is None or not module.runs:
        raise RuntimeInputError(f"layer report of {module!r}: expected a module from compile "
                                f"(with its program) after a run, got program "
                                f"{'None' if program is None else 'set'} and {module.runs} run(s); "
                                f"call module.run(...) first")
    model, cfg = VtaCostModel(cfg=module.cfg), module.cfg
    unavailable = module.report.get("stages", {}).get("extract", {}).get("unavailable", {})
    rows: list[LayerRow] = []
    host: dict[str, float] = {}
    call = 0
    for term, info in term_infos(program):
        if term.op in CALLS:
            report = reports[call]
            call += 1
            rows.append(LayerRow(term.op.value, _describe(term, cfg), "vta", "cheaper on VTA (cost model)",
                                 report.cycles / cfg.clock_hz, report.cycles, report.gemm_utilization,
                                 dict(report.moved)))
        elif term.op not in LEAVES and not info.constant:
            seconds = model.node_cost(info)
            host[term.op.value] = host.get(term.op.value, 0.0) + seconds
            if term.op.cost == Cost.CONTRACTION:
                rows.append(LayerRow(term.op.value, _describe(term, cfg), "cpu",
                                     _host_reason(term, cfg, unavailable), seconds))
    return LayerReport(cfg.name, cfg.clock_hz, model.cpu.name, tuple(rows),
                       sum(r.cycles or 0 for r in rows) / cfg.clock_hz, sum(host.values()),
                       tuple(sorted(host.items(), key=lambda item: -item[1])))


def _describe(term: Term, cfg: VtaConfig) -> str:
    """Channels, image and kernel of a conv (CxHxW -> OxOHxOW kKxK/sS), else K -> O."""
    x, w = term.args[0].shape, term.args[1].shape
    packed = term.op in CALLS
    if dict(term.attrs).get("strides") is None:
        k, o = (x[1] * cfg.block_in, w[0] * cfg.block_out) if packed else (x[-1], term.shape[-1])
        return f"{k} -> {o}"
    c, o = (x[1] * cfg.block_in, w[0] * cfg.block_out) if packed else (x[1], w[0])
    (oh, ow), stride = term.shape[2:4], term.attr("strides")[0]
    return f"{c}x{x[2]}x{x[3]} -> {o}x{oh}x{ow} k{w[2]}x{w[3]}/s{stride}"


def _host_reason(term: Term, cfg: VtaConfig, unavailable: Mapping[str, str]) -> str:
    """Why a contraction runs on the host: its VTA form's lowering error when the extractor
    priced one for these shapes, else several groups (VTA has a form for one group only),
    float operands or the cost model's choice."""
    if dict(term.attrs).get("strides") is not None and len(term.args[0].shape) == 4:
        (n, c, h, w), (o, _, kh, kw) = term.args[0].shape, term.args[1].shape
        nb, cb, ob = -(-n // cfg.batch), -(-c // cfg.block_in), -(-o // cfg.block_out)
        key = (f"vta_conv2d {[nb, cb, h, w, cfg.batch, cfg.block_in]} x "
               f"{[ob, cb, kh, kw, cfg.block_out, cfg.block_in]}")
        if key in unavailable:
            return f"VTA unavailable: {unavailable[key]}"
    groups = dict(term.attrs).get("groups", 1)
    if groups != 1:
        return f"{groups} groups (VTA tensorizes convolutions of one group)"
    if any(a.dtype != "int8" for a in term.args[:2]):
        return f"{term.args[0].dtype} operands (the extractor kept this form; VTA computes int8)"
    return "cheaper on the host (cost model)"
