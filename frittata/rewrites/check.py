"""Property checking of rules: every rule, on random instances, against the interpreter.

For each rule, instances of its left side are generated (`instances.Instance`) for every dtype
variant its guards admit (`instances.dtype_variants`); the right side is built from the same
match, both sides are evaluated by the reference interpreter on data from each operand's valid
domain and compared: exactly for integers and booleans, with a relative tolerance for floats
(rounding differs when a rule reassociates). An instance is meaningful only if the left side's
outputs are finite; NaN on both sides is not agreement, and a right side that turns finite
values into NaN or infinity is a counterexample.

A rule fails if any instance differs, if its right side is ill-typed or changes the type, or if
fewer than `minimum` meaningful instances were found for one of its dtype variants (an
untested rule is not a checked rule). A rule with sequence variables is checked on instances
of randomly drawn sequence lengths (`draw_instance`). Rules whose right side is a tiled kernel carry a loop
schedule the interpreter ignores: given a `compiled` runner (the CLI passes the LLVM backend's),
their meaningful instances are also compiled, as outputs of one program, and run against the
interpreter's left side.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from frittata.errors import FrittataError
from frittata.rewrites.instances import Instance, dtype_variants, wants_wide_dims
from frittata.rewrites.library import library_rules, load_file
from frittata.rewrites.matching import build_rhs, guards_hold
from frittata.rewrites.rule_format import Pattern, PVar, Rule
from frittata.rewrites.sequences import draw_instance
from frittata.terms.interp import evaluate
from frittata.terms.program import Program
from frittata.terms.term import Term

RTOL, ATOL = 1e-3, 1e-4
COMPILED = 2  # largest instances of a tiled rule compiled, as one program (~1-2 s per kernel)

# Compiles a program and runs it on named inputs (e.g. the LLVM backend's build + run).
Runner = Callable[[Program, Mapping[str, np.ndarray]], Mapping[str, np.ndarray]]


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
               compiled: Runner | None = None, minimum: int | None = None) -> CheckResult:
    """Check one rule on `examples` meaningful instances per dtype variant (drawn in at most
    `attempts` tries each); fail below `minimum` (default: half of `examples`, at least 1).
    With `compiled`, a tiled right side is also compiled on `COMPILED` of its instances."""
    rng = np.random.default_rng([seed, zlib.crc32(rule.name.encode())])
    need = max(1, examples // 2) if minimum is None else minimum
    result = CheckResult(rule, 0)
    cases: list[_Case] = []
    for variant in dtype_variants(rule):
        label = "[" + " ".join(f"{n}={d}" for n, d in sorted(variant.items())) + "]" if variant else ""
        result.meaningful[label] = 0
        for _ in range(attempts):
            if result.meaningful[label] >= examples:
                break
            fixed = draw_instance(rule, rng)  # sequence variables get drawn lengths
            if fixed is None:
                continue
            instance = Instance(fixed, rng, variant, suffix=f"_{len(cases)}" if compiled else "")
            lhs = instance.build()
            if lhs is None or not guards_hold(fixed, instance.env):
                continue
            result.tried += 1
            outcome = _compare(fixed, instance, lhs)
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
    if compiled is not None and wants_wide_dims(rule):
        chosen = sorted(cases, key=lambda c: -c.expected.size)[:COMPILED]  # most blocks and tails
        result.compiled, result.failure = len(chosen), _run_compiled(chosen, compiled)
    return result


def _compare(rule: Rule, instance: Instance, lhs: Term) -> _Case | str | None:
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
    if _close(out["lhs"], out["rhs"]):
        return _Case(rhs, inputs, out["lhs"])
    return f"counterexample: lhs = {lhs!r}; rhs = {rhs!r}; inputs {_shown(inputs)}; {_diff(out['lhs'], out['rhs'])}"


def _run_compiled(cases: list[_Case], compiled: Runner) -> str | None:
    """Compile every case's right side as one program; the first that differs, or None."""
    if not cases:
        return None
    program = Program({f"case{i}": c.rhs for i, c in enumerate(cases)})
    inputs = {n: v for c in cases for n, v in c.inputs.items() if n in program.inputs}
    got = compiled(program, inputs)
    for i, case in enumerate(cases):
        value = got[f"case{i}"]
        if not (_finite(value) and _close(case.expected, value)):
            shown = _shown({n: v for n, v in case.inputs.items() if n in program.inputs})
            return (f"compiled right side differs from the interpreter's left side: rhs = {case.rhs!r}; "
                    f"inputs {shown}; {_diff(case.expected, value)}")
    return None


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


def _shown(inputs: Mapping[str, np.ndarray]) -> dict:
    return {n: v.tolist() if v.size <= 8 else f"{v.dtype}{list(v.shape)}" for n, v in inputs.items()}


def _diff(a: np.ndarray, b: np.ndarray) -> str:
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"lhs gives {a.dtype}{list(a.shape)}, rhs gives {b.dtype}{list(b.shape)}"
    bad = np.argwhere(~np.isclose(a, b) if a.dtype.kind == "f" else a != b)[0]
    at = tuple(int(i) for i in bad)
    return f"at index {at}: lhs {a[at]!r}, rhs {b[at]!r}"


def check_rules(rules: Iterable[Rule], examples: int = 12, seed: int = 0,
                compiled: Runner | None = None) -> list[CheckResult]:
    return [check_rule(r, examples, seed=seed, compiled=compiled) for r in rules for r in r.directions()]


def rules_check_main(files: list[str], out=sys.stdout, compiled: Runner | None = None) -> int:
    """`frittata rules check [FILES]`: check the given files (default: the library).

    Prints one line per rule (meaningful instances per dtype variant, compiled ones) and a
    summary; returns 0 if every rule passed, else 1.
    """
    try:
        rules = [r for f in files for r in load_file(f)] if files else library_rules()
    except FrittataError as err:
        print(f"error: {err}", file=out)
        return 1
    results = check_rules(rules, compiled=compiled)
    for result in results:
        print(result.line(), file=out)
    failed = [r.rule.name for r in results if not r.passed]
    meaningful = sum(r.total for r in results)
    summary = (f"{len(results)} rules: {len(results) - len(failed)} passed, {len(failed)} failed; "
               f"{meaningful} meaningful instances, {sum(r.compiled for r in results)} compiled")
    print(summary + (f" ({', '.join(failed)})" if failed else ""), file=out)
    return 1 if failed else 0
