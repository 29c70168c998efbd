"""Scheduling and static memory planning: which terms get a buffer, where, and for how long.

The plan fuses nothing: which ops share a loop is decided by the rewrite rules (a chain of
elementwise ops is one `fused_elementwise` term, a contraction's epilogue is part of its
`fused_*` term), where the cost model prices it. Every non-leaf term is a *step*: one kernel,
run in program order, writing its own buffer, except a scalar `const` read only by elementwise
ops, which is *inlined* as an immediate of their expressions, and `reshape`, which aliases its
operand's buffer. Outputs are written straight into the caller's arrays (a step whose result
an output only reshapes writes that output); intermediates share one arena, where a buffer is
reused once its last reader has run (first fit, 64-byte aligned). Pointer slots: 0 arena, then
inputs, outputs, params.
A step of an "indexed" op (whose indices are checked at run time) also gets a status record
of `STATUS_BYTES` after the intermediates, which its kernel writes on every call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from frittata.backends.llvm.views import Buf
from frittata.backends.packing import Derivation, derive
from frittata.terms.dtypes import TensorType
from frittata.terms.ops import ELEMENTWISE, Op
from frittata.terms.program import Program
from frittata.terms.term import Term

ALIGN = 64
STATUS_BYTES = 32
"""One status record: four int64 words (failed, bad index, its position, the bound)."""
EXPRESSION_OPS = ELEMENTWISE | {Op.CONST, Op.BATCH_NORM}
EXPRESSION_KERNELS = frozenset({Op.FUSED_ELEMENTWISE, Op.FUSED_SOFTMAX})
"""Kernels whose operands are read through an expression, where a constant is an immediate."""


@dataclass(frozen=True)
class Step:
    """One kernel: compute `term` into `out`; `copy_of` marks an output copy of a placed term;
    `status` is the record an index-checking kernel writes."""

    term: Term
    out: Buf
    scratch: Buf | None = None
    copy_of: Term | None = None
    status: Buf | None = None


@dataclass
class Plan:
    inputs: dict[str, TensorType]
    outputs: dict[str, TensorType]
    params: dict[str, np.ndarray]
    steps: list[Step] = field(default_factory=list)
    location: dict[int, Buf] = field(default_factory=dict)
    inlined: set[int] = field(default_factory=set)
    roots: dict[int, Term] = field(default_factory=dict)
    """The term whose buffer each reshape aliases (by the reshape's id)."""
    arena_bytes: int = 0
    derived: dict[str, Derivation] = field(default_factory=dict)
    """How the params a kernel derived from the model's weights were made (`add_derived`)."""

    def slot(self, kind: str, name: str) -> int:
        """Pointer-table index of an input, output or param by name."""
        match kind:
            case "input":
                return 1 + list(self.inputs).index(name)
            case "output":
                return 1 + len(self.inputs) + list(self.outputs).index(name)
            case _:
                return 1 + len(self.inputs) + len(self.outputs) + list(self.params).index(name)

    def add_param(self, name: str, data: np.ndarray) -> Buf:
        """Register a compile-time constant (e.g. packed weights); returns its buffer."""
        data = np.ascontiguousarray(data)
        self.params[name] = data
        return Buf(self.slot("param", name), 0, TensorType(tuple(data.shape), data.dtype.name))

    def add_derived(self, name: str, derivation: Derivation) -> Buf:
        """Register a constant made from the model's weights by a recipe (a module file stores
        the weights and the recipe, not the constant); returns its buffer."""
        self.derived[name] = derivation
        return self.add_param(name, derive(derivation.recipe, derivation.source, derivation.args))

    @property
    def slot_count(self) -> int:
        return 1 + len(self.inputs) + len(self.outputs) + len(self.params)


def inline_set(program: Program) -> set[int]:
    """The constants every reader of which is elementwise, or an elementwise expression's kernel
    (`fused_elementwise`, `fused_softmax`), and which are not outputs."""
    users: dict[int, list[Term]] = {}
    for t in program.terms():
        for a in t.args:
            users.setdefault(id(a), []).append(t)
    outputs = {id(t) for t in program.outputs.values()}
    return {id(t) for t in program.terms()
            if t.op == Op.CONST and id(t) not in outputs and id(t) in users
            and all(u.op in ELEMENTWISE or u.op in EXPRESSION_KERNELS for u in users[id(t)])}


def make_plan(program: Program, scratch_bytes) -> Plan:
    """Place every term; `scratch_bytes(term)` says how much per-step scratch a kernel needs."""
    plan = Plan(dict(program.inputs), {n: t.type for n, t in program.outputs.items()}, dict(program.params))
    plan.inlined = inline_set(program)
    out_slot: dict[int, str] = {}
    for name, t in program.outputs.items():
        out_slot.setdefault(id(t), name)
    root = plan.roots
    order = [t for t in program.terms() if _is_step(plan, t, root)]
    owned = {id(t) for t in order}
    for name, t in program.outputs.items():
        base = root.get(id(t))
        if base is not None and id(base) in owned and id(base) not in out_slot and out_slot[id(t)] == name:
            out_slot[id(base)] = name  # an output that reshapes a step: the step writes the output
    copies = [(name, t) for name, t in program.outputs.items()
              if out_slot[id(t)] != name or (id(t) not in owned and not _reshapes_into(t, name, root, out_slot))]
    copied = [root.get(id(t), t) for _, t in copies]
    offsets, scratch, plan.arena_bytes = _assign_arena(plan, order, copied, root, out_slot, scratch_bytes)
    for t in program.terms():
        _locate(plan, t, root, out_slot, offsets)
    for t in order:
        size = scratch.get(id(t))
        status = None
        if t.op.is_a("indexed"):
            status = Buf(0, _align(plan.arena_bytes), TensorType((STATUS_BYTES // 8,), "int64"))
            plan.arena_bytes = status.offset + STATUS_BYTES
        plan.steps.append(Step(t, plan.location[id(t)], None if size is None else
                               Buf(0, size[0], TensorType((size[1],), "uint8")), status=status))
    for name, t in copies:
        plan.steps.append(Step(t, Buf(plan.slot("output", name), 0, t.type), copy_of=t))
    return plan


def _reshapes_into(t: Term, name: str, root: dict[int, Term], out_slot: dict[int, str]) -> bool:
    """True when output `name` is a reshape of a step that writes that output itself."""
    return id(t) in root and out_slot.get(id(root[id(t)])) == name


def _is_step(plan: Plan, t: Term, root: dict[int, Term]) -> bool:
    if t.op == Op.RESHAPE:
        root[id(t)] = root.get(id(t.args[0]), t.args[0])
    return t.op not in (Op.INPUT, Op.PARAM, Op.RESHAPE) and id(t) not in plan.inlined


def _locate(plan: Plan, t: Term, root: dict[int, Term], out_slot: dict[int, str], offsets: dict[int, int]) -> None:
    match t.op:
        case Op.INPUT:
            plan.location[id(t)] = Buf(plan.slot("input", t.attr("name")), 0, t.type)
        case Op.PARAM:
            plan.location[id(t)] = Buf(plan.slot("param", t.attr("ref").name), 0, t.type)
        case Op.RESHAPE:
            base = plan.location[id(root[id(t)])]
            plan.location[id(t)] = Buf(base.slot, base.offset, t.type)
        case _ if id(t) in plan.inlined:
            pass
        case _ if id(t) in out_slot:
            plan.location[id(t)] = Buf(plan.slot("output", out_slot[id(t)]), 0, t.type)
        case _:
            plan.location[id(t)] = Buf(0, offsets[id(t)], t.type)


def _reads(plan: Plan, t: Term, root: dict[int, Term]) -> list[Term]:
    """The placed terms whose buffers the kernel of `t` reads (through inlined operands and aliases)."""
    found, stack = [], list(t.args)
    while stack:
        a = stack.pop()
        if id(a) in plan.inlined:
            stack.extend(a.args)
        else:
            found.append(root.get(id(a), a))
    return found


def _assign_arena(plan: Plan, order: list[Term], copied: list[Term], root, out_slot, scratch_bytes):
    """First-fit offsets for arena terms and per-step scratch; returns (offsets, scratch, peak).
    A term that an output copy reads (`copied`, after every step) stays live to the end."""
    last = {id(t): i for i, t in enumerate(order)}
    for i, t in enumerate(order):
        for r in _reads(plan, t, root):
            last[id(r)] = max(last.get(id(r), i), i)
    for t in copied:
        last[id(t)] = len(order)
    live: list[tuple[int, int, int]] = []  # (offset, size, last step)
    offsets, scratch, peak = {}, {}, 0
    for i, t in enumerate(order):
        live = [a for a in live if a[2] >= i]
        requests = [] if id(t) in out_slot else [("out", t.type.nbytes, last[id(t)])]
        extra = scratch_bytes(t)
        requests += [("scratch", extra, i)] if extra else []
        for kind, size, end in requests:
            offset = _first_fit(live, size)
            live.append((offset, size, end))
            peak = max(peak, offset + size)
            if kind == "out":
                offsets[id(t)] = offset
            else:
                scratch[id(t)] = (offset, size)
    return offsets, scratch, peak


def in_place_outputs(plan: Plan, program: Program) -> tuple[str, ...]:
    """The outputs that may be written into the buffer of the input of the same name (a training
    step's parameters and optimizer state): the output is computed by one elementwise step, which
    reads that input, if at all, as a direct operand of the output's own shape (so each element
    is read before the same element is written), and no later step or output copy reads the
    input. A plan whose kernels check run-time indices has none: an index out of range is
    reported after every step ran, and by then the input would be overwritten."""
    if any(step.status is not None for step in plan.steps):
        return ()
    root = plan.roots
    position = {id(step.term): i for i, step in enumerate(plan.steps) if step.copy_of is None}
    readers: dict[str, list[int]] = {}
    for i, step in enumerate(plan.steps):
        for r in _reads(plan, step.term, root):
            if r.op == Op.INPUT:
                readers.setdefault(r.attr("name"), []).append(len(plan.steps) if step.copy_of is not None else i)
    chosen = []
    for name, t in program.outputs.items():
        where = position.get(id(t))
        if (name not in program.inputs or program.inputs[name] != t.type or where is None
                or plan.location[id(t)] != Buf(plan.slot("output", name), 0, t.type)
                or t.op not in ELEMENTWISE | {Op.FUSED_ELEMENTWISE}):
            continue
        direct = all(a.shape == t.shape for a in t.args if _input_name(a) == name)
        aliased = any(id(a) in root and _input_name(root[id(a)]) == name for a in t.args)
        if direct and not aliased and all(i <= where for i in readers.get(name, [])):
            chosen.append(name)
    return tuple(chosen)


def _input_name(t: Term) -> str | None:
    return t.attr("name") if t.op == Op.INPUT else None


def _first_fit(live: list[tuple[int, int, int]], size: int) -> int:
    offset = 0
    for start, length, _ in sorted(live):
        if offset + size <= start:
            break
        offset = max(offset, _align(start + length))
    return offset


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN
