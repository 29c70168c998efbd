"""Property checking of rules: every rule, on random instances, against the interpreter.

For each rule, instances of its left side are generated (`instances.Instance`) for every dtype
variant its guards admit (`instances.dtype_variants`); the right side is built from the same
match, both sides are evaluated by the reference interpreter on data from each operand's valid
domain and compared: exactly for integers and booleans, with a relative tolerance for floats
(rounding differs when a rule reassociates). An instance is meaningful only if the left side's
outputs are finite; NaN on both sides is not agreement, and a right side that turns finite
values into NaN or infinity is a counterexample. Floats compare as IEEE values, so -0.0 equals
+0.0: a rule may change the sign of a zero result (the README's example `clip(relu(x), 0, hi)`
=> `clip(x, 0, hi)` does, at x = -0.0), as fused kernels of other runtimes do; frittata keeps
values, not the sign of zero. Where a zero's sign decides a value (a division by it), the
infinities it gives make the instance not meaningful or the right side a counterexample.

A rule fails if any instance differs, if its right side is ill-typed or changes the type, or if
fewer than `minimum` meaningful instances were found for one of its dtype variants (an
untested rule is not a checked rule). A rule with sequence variables is checked on instances
of randomly drawn sequence lengths (`draw_instance`). A right side that builds a kernel (a
fused epilogue, a tiled loop schedule, a VTA block) means more than the interpreter sees: given
`compiled` runners by target (the CLI passes the LLVM backend's as "llvm" and the VTA
simulator's as "vta"), its largest meaningful instances are also compiled, each as its own
program, run (VTA ops on "vta", other kernels on "llvm") and compared with the interpreter's
left side; a right side that does not build or run fails the rule. A compiled kernel sums in
its own order, so where its epilogue ends in a cast of a float to an integer type, an element
whose float value lies within rounding (`RTOL`, `ATOL`) of an integer may truncate to the next
integer: such a right side may differ from the left side by one where that float is within
`ATOL` of the largest one from an integer, and nowhere else (`_one_cast_step`); the interpreter's
comparison stays exact.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np

from frittata.rewrites.exprs import PREDICATES
from frittata.rewrites.instances import Instance, dtype_variants, reads_dims, rhs_ops, size_sensitive
from frittata.rewrites.library import library_rules, load_file
from frittata.rewrites.matching import build_rhs, guards_hold
from frittata.rewrites.rule_format import Pattern, PVar, Rule
from frittata.rewrites.sequences import draw_instance
from frittata.terms.dtypes import is_int
from frittata.terms.interp import evaluate
from frittata.terms.leaves import param
from frittata.terms.ops import KERNELS, VTA, Op
from frittata.terms.program import Program
from frittata.terms.term import Term, postorder

RTOL, ATOL = 1e-3, 1e-4
COMPILED = 2  # largest instances of a kernel rule compiled, each its own program (~1-2 s per kernel)
SIZE_SENSITIVE = 4  # times the instances for a rule whose soundness turns on sizes
FORMS = 8  # at most this many compiled in all: the largest instance of each kernel form first
UNIT = 2  # times the instances, of sizes 1 and one above, for a rule whose guards read dimensions

# Compiles a program and runs it on named inputs (e.g. the LLVM backend's build + run).
Runner = Callable[[Program, Mapping[str, np.ndarray]], Mapping[str, np.ndarray]]
Runners = Mapping[str, Runner]  # by target: "llvm", "vta"


@dataclass
class CheckResult:
    """The outcome for one rule: instances tried, meaningful ones per dtype variant, failure."""

    rule: Rule
    tried: int
    meaningful: dict[str, int] = field(default_factory=dict)
    compiled: int = 0
    failure: str | None = None

    @property
    def passed(self) -> bool:
        return self.failure is None

    @property
    def total(self) -> int:
        return sum(self.meaningful.values())

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        counts = ", ".join(f"{label} {n}" for label, n in self.meaningful.items() if label)
        text = f"{verdict} {self.rule.name:<42} {self.total:>3} meaningful of {self.tried:>3}"
        text += f" ({counts})" if counts else ""
        text += f", {self.compiled} compiled" if self.compiled else ""
        return text if self.passed else f"{text}\n     {self.failure}"


@dataclass
class _Case:
    """A meaningful instance: the right side, its inputs and the left side's outputs."""

    rhs: Term
    inputs: dict[str, np.ndarray]
    expected: np.ndarray


def check_rule(rule: Rule, examples: int = 12, attempts: int = 2500, seed: int = 0,
               compiled: Runners | None = None, minimum: int | None = None) -> CheckResult:
    """Check one rule on `examples` meaningful instances per dtype variant (`SIZE_SENSITIVE`
    times as many if its soundness turns on sizes: `instances.size_sensitive`), drawn in at most
    `attempts` tries each; fail below `minimum` (default: half of `examples` as asked, at least
    1, for size-sensitive rules too: the minimum guards against a vacuous check, and the extra
    instances they get are reach beyond it, not a higher bar).
    With `compiled`, a kernel right side is also compiled on `_compiled_cases` of its instances."""
    rng = np.random.default_rng([seed, zlib.crc32(rule.name.encode())])
    edges = np.random.default_rng([seed, zlib.crc32(rule.name.encode()), 1])  # apart: `rng` draws the same instances
    need = max(1, examples // 2) if minimum is None else minimum
    if size_sensitive(rule):
        examples *= SIZE_SENSITIVE
    result = CheckResult(rule, 0)
    cases: list[_Case] = []
    for variant in dtype_variants(rule):
        label = "[" + " ".join(f"{n}={d}" for n, d in sorted(variant.items())) + "]" if variant else ""
        result.meaningful[label] = 0
        for outcome in _outcomes(rule, variant, rng, edges, examples, attempts):
            result.tried += 1
            if isinstance(outcome, str):
                result.failure = outcome
                return result
            if outcome is not None:
                result.meaningful[label] += 1
                cases.append(outcome)
        if result.meaningful[label] < need:
            where = f" for {label}" if label else ""
            result.failure = (f"only {result.meaningful[label]} meaningful instances (finite outputs){where} "
                              f"in {attempts} attempts, {result.tried} satisfying the guards; expected "
                              f">= {need} ({rule.where})")
            return result
    if reads_dims(rule):
        result.failure = _unit_failure(rule, UNIT * examples, attempts // 5, seed)
        if result.failure:
            return result
    runner = _runner(rule, compiled or {})
    if runner is not None:
        chosen = _compiled_cases(cases)
        result.compiled, result.failure = len(chosen), _run_compiled(chosen, runner)
    return result


def _unit_failure(rule: Rule, examples: int, attempts: int, seed: int) -> str | None:
    """The first counterexample among `examples` meaningful instances per dtype variant whose
    every dimension is 1 or one size above (`Instance(unit=True)`), drawn in at most `attempts`
    tries each. They have generators of their own, so the rule's other instances are the ones
    it always had; they count toward no minimum and are not compiled."""
    key = zlib.crc32(rule.name.encode())
    rng, edges = np.random.default_rng([seed, key, 2]), np.random.default_rng([seed, key, 3])
    for variant in dtype_variants(rule):
        for outcome in _outcomes(rule, variant, rng, edges, examples, attempts, unit=True):
            if isinstance(outcome, str):
                return outcome
    return None


def _outcomes(rule: Rule, variant: dict[str, str], rng: np.random.Generator, edges: np.random.Generator,
              examples: int, attempts: int, unit: bool = False) -> Iterator[_Case | str | None]:
    """`_compare`'s outcome for each instance of one dtype variant that builds and satisfies
    the guards, drawn in at most `attempts` tries, until `examples` were meaningful or one is
    a counterexample (a str, the last one yielded)."""
    meaningful = 0
    for _ in range(attempts):
        if meaningful >= examples:
            return
        fixed = draw_instance(rule, rng)  # sequence variables get drawn lengths
        if fixed is None:
            continue
        instance = Instance(fixed, rng, variant, unit=unit)
        lhs = instance.build()
        if lhs is None or not guards_hold(fixed, instance.env):
            continue
        outcome = _compare(fixed, instance, lhs, edges)
        yield outcome
        if isinstance(outcome, str):
            return
        meaningful += outcome is not None


def _compiled_cases(cases: list[_Case]) -> list[_Case]:
    """The cases worth compiling: the largest of each kernel form (`_form`: a backend
    specializes on it), then the largest overall (most blocks and tails), `COMPILED` at least
    and `FORMS` at most."""
    by_size = sorted(cases, key=lambda c: -c.expected.size)
    firsts: dict[tuple, _Case] = {}
    for case in by_size:
        firsts.setdefault(_form(case.rhs), case)
    chosen = list(firsts.values())[:FORMS]
    extra = [c for c in by_size if all(c is not k for k in chosen)]
    return chosen + extra[:max(0, COMPILED - len(chosen))]


def _form(term: Term) -> tuple:
    """What a backend specializes a kernel on, sizes aside, as the library's guards see it:
    each kernel node's op, its operands' dtypes, ranks and parameter-ness, and whether its epilogue is one VTA
    runs, one a float register block runs, and has a none bound."""
    form = []
    for node in postorder([term]):
        if node.op in KERNELS:
            steps = tuple(dict(node.attrs).get("epilogue", ()))
            epilogue = (PREDICATES["vta-epilogue"][1](steps), PREDICATES["float-epilogue"][1](steps),
                        any(v is None for step in steps for v in step[1:]))
            operands = tuple((a.dtype, a.type.rank, a.op == Op.PARAM) for a in node.args)
            form.append((node.op, operands, epilogue))
    return tuple(form)


def _runner(rule: Rule, compiled: Runners) -> Runner | None:
    """The runner a rule's right side is compiled with: "vta" for VTA ops, "llvm" for other
    kernels; None for plain ops (the interpreter is their meaning) or no such runner."""
    ops = rhs_ops(rule)
    if ops & VTA:
        return compiled.get("vta")
    return compiled.get("llvm") if ops & KERNELS else None


def _compare(rule: Rule, instance: Instance, lhs: Term, edges: np.random.Generator) -> _Case | str | None:
    """A meaningful case, a counterexample (str), or None for a vacuous instance."""
    attrs = build_rhs(rule, instance.env)
    if attrs is None:
        return f"right side ill-typed or of another type than {lhs.type}; lhs = {lhs!r}"
    rhs = _rhs_term(rule.rhs, instance.terms, iter(attrs))
    program = Program({"lhs": lhs, "rhs": rhs})
    inputs = {n: instance.data(n, t) for n, t in program.inputs.items()}
    out = evaluate(program, inputs)
    if not _finite(out["lhs"]):
        return None
    if not _close(out["lhs"], out["rhs"]):
        return _counterexample(lhs, rhs, inputs, out)
    return _at_the_edges(instance, lhs, rhs, inputs, edges) or _Case(rhs, inputs, out["lhs"])


def _at_the_edges(instance: Instance, lhs: Term, rhs: Term, inputs: dict[str, np.ndarray],
                  rng: np.random.Generator) -> str | None:
    """The same instance with every integer leaf (inputs and parameters) at an edge of its
    range (`Instance.edge_data`, drawn from `rng`): a counterexample, or None if both sides
    agree there (or have no integer leaf)."""
    leaves = [n for n in postorder([lhs, rhs]) if n.op in (Op.INPUT, Op.PARAM) and is_int(n.dtype)]
    if not leaves:
        return None
    edges = {n: instance.edge_data(_leaf_name(n), n.type, rng) for n in leaves}
    built: dict[Term, Term] = {}
    for node in postorder([lhs, rhs]):
        if node.op == Op.PARAM and node in edges:
            built[node] = param(_leaf_name(node), edges[node])
        else:
            built[node] = Term.make(node.op, tuple(built[a] for a in node.args), node.attrs)
    at_edges = {**inputs, **{_leaf_name(n): v for n, v in edges.items() if n.op == Op.INPUT}}
    out = evaluate(Program({"lhs": built[lhs], "rhs": built[rhs]}), at_edges)
    if not _finite(out["lhs"]) or _close(out["lhs"], out["rhs"]):
        return None
    return "at the edges of the integer range: " + _counterexample(built[lhs], built[rhs], at_edges, out)


def _leaf_name(leaf: Term) -> str:
    return leaf.attr("ref").name if leaf.op == Op.PARAM else leaf.attr("name")


def _counterexample(lhs: Term, rhs: Term, inputs: dict[str, np.ndarray], out: dict[str, np.ndarray]) -> str:
    at = _first_difference(out["lhs"], out["rhs"])
    return (f"counterexample: lhs = {lhs!r}; rhs = {rhs!r}; inputs {_shown(inputs, out['lhs'], at)}; "
            f"{_diff(out['lhs'], out['rhs'])}")


def _run_compiled(cases: list[_Case], compiled: Runner) -> str | None:
    """Compile and run each case's right side as its own program (one instance per program:
    what is checked is the rule, not how a backend plans several outputs); the first that
    fails or differs, or None."""
    for case in cases:
        program = Program({"rhs": case.rhs})
        inputs = {n: v for n, v in case.inputs.items() if n in program.inputs}
        try:
            value = compiled(program, inputs)["rhs"]
        except Exception as err:  # noqa: BLE001 - whatever stops the backend, the rule's right side fails
            return f"compiled right side does not build or run: {type(err).__name__}: {err}; rhs = {case.rhs!r}"
        if not (_finite(value) and (_close(case.expected, value) or _one_cast_step(case, inputs, value))):
            return (f"compiled right side differs from the interpreter's left side: rhs = {case.rhs!r}; "
                    f"inputs {_shown(inputs, case.expected, _first_difference(case.expected, value))}; "
                    f"{_diff(case.expected, value)}")
    return None


CAST_STEP_WINDOW = 0.25
"""The widest distance from an integer at which a compiled cast may step by one: `ATOL` times
the largest float reaches 0.5 from 5000 on, where every element would be "near" an integer and
any off-by-one (a kernel rounding where it should truncate) would pass."""


def _one_cast_step(case: _Case, inputs: Mapping[str, np.ndarray], value: np.ndarray) -> bool:
    """Whether a compiled kernel's integer output differs from the interpreter's only by one,
    and only where the float its epilogue casts last (the interpreter's value, cast left out)
    lies within rounding of an integer (`ATOL` times the largest such float, at most
    `CAST_STEP_WINDOW`): the kernel's sum of the same terms in another order may land on the
    other side of it before the cast truncates."""
    rhs, expected = case.rhs, case.expected
    steps = tuple(dict(rhs.attrs).get("epilogue", ())) if rhs.op in KERNELS else ()
    if not steps or steps[-1][0] != "cast" or expected.shape != value.shape or expected.dtype != value.dtype:
        return False
    before = Term.make(rhs.op, rhs.args, tuple((k, steps[:-1] if k == "epilogue" else v) for k, v in rhs.attrs))
    if before.dtype == rhs.dtype or before.type.shape != expected.shape or is_int(before.dtype):
        return False
    floats = evaluate(Program({"v": before}), inputs)["v"].astype(np.float64)
    scale = float(np.max(np.abs(floats), initial=1.0))
    step = np.abs(value.astype(np.int64) - expected.astype(np.int64))
    boundary = np.abs(floats - np.round(floats)) <= min(ATOL * scale, CAST_STEP_WINDOW)
    return bool(np.all(step <= 1) and np.all(boundary[step == 1]))


def _rhs_term(pattern: Pattern, terms: dict[str, Term], attrs) -> Term:
    if isinstance(pattern, PVar):
        return terms[pattern.name]
    kids = tuple(_rhs_term(a, terms, attrs) for a in pattern.args)
    return Term.make(pattern.op, kids, next(attrs))


def _finite(a: np.ndarray) -> bool:
    return a.dtype.kind != "f" or bool(np.isfinite(a).all())


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal types and values: exact for integers and booleans, to rounding for (finite) floats."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind != "f":
        return bool(np.array_equal(a, b))
    scale = float(np.max(np.abs(a), initial=1.0))
    return _finite(b) and bool(np.allclose(a, b, rtol=RTOL, atol=ATOL * scale))


def _shown(inputs: Mapping[str, np.ndarray], output: np.ndarray | None = None,
           at: tuple[int, ...] | None = None) -> dict:
    """Small inputs in full; a larger one by its type, and by the value it gives the output's
    element `at` (where the two sides differ) when it broadcasts to the output's shape."""
    shown: dict[str, object] = {}
    for name, value in inputs.items():
        if value.size <= 8:
            shown[name] = value.tolist()
        elif output is not None and at is not None and _broadcasts(value.shape, output.shape):
            shown[name] = f"{value.dtype}{list(value.shape)} giving {np.broadcast_to(value, output.shape)[at]} at {at}"
        else:
            shown[name] = f"{value.dtype}{list(value.shape)}"
    return shown


def _broadcasts(shape: tuple[int, ...], to: tuple[int, ...]) -> bool:
    return len(shape) <= len(to) and all(d in (1, t) for d, t in zip(shape[::-1], to[::-1], strict=False))


def _first_difference(a: np.ndarray, b: np.ndarray) -> tuple[int, ...] | None:
    if a.shape != b.shape or a.dtype != b.dtype:
        return None
    bad = np.argwhere(~np.isclose(a, b) if a.dtype.kind == "f" else a != b)
    return tuple(int(i) for i in bad[0]) if len(bad) else None


def _diff(a: np.ndarray, b: np.ndarray) -> str:
    """Where and how both sides' outputs differ: in full when small, else at the first difference."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"lhs gives {a.dtype}{list(a.shape)}, rhs gives {b.dtype}{list(b.shape)}"
    at = _first_difference(a, b)
    if a.size <= 8:
        return f"outputs: lhs {a.tolist()}, rhs {b.tolist()}" + (f" (first difference at {at})" if at else "")
    return f"at index {at}: lhs {a[at]}, rhs {b[at]}" if at is not None else "outputs differ (non-finite rhs)"


def check_rules(rules: Iterable[Rule], examples: int = 12, seed: int = 0,
                compiled: Runners | None = None) -> list[CheckResult]:
    return [check_rule(r, examples, seed=seed, compiled=compiled) for r in rules for r in r.directions()]


def rules_check_main(files: list[str], out: TextIO | None = None, compiled: Runners | None = None) -> int:
    """`frittata rules check [FILES]`: check the given files (default: the library).

    Prints one line per rule (meaningful instances per dtype variant, compiled ones) and a
    summary; returns 0 if every rule passed, else 1. A file that cannot be read or parsed
    raises its `RewriteError` (an input error, not a failed check).
    """
    out = out or sys.stdout
    rules = [r for f in files for r in load_file(f)] if files else library_rules()
    results = check_rules(rules, compiled=compiled)
    for result in results:
        print(result.line(), file=out)
    failed = [r.rule.name for r in results if not r.passed]
    meaningful = sum(r.total for r in results)
    summary = (f"{len(results)} rules: {len(results) - len(failed)} passed, {len(failed)} failed; "
               f"{meaningful} meaningful instances, {sum(r.compiled for r in results)} compiled")
    print(summary + (f" ({', '.join(failed)})" if failed else ""), file=out)
    return 1 if failed else 0
