"""Property checking of rules: every rule, on random instances, against the interpreter.

For each rule, instances of its left side are generated (`instances.Instance`) until enough
satisfy its guards; the right side is built from the same match, both sides are evaluated by
the reference interpreter on random inputs and compared: exactly for integers and booleans,
with a relative tolerance for floats (rounding differs when a rule reassociates). A rule fails
if any instance differs, if its right side is ill-typed or changes the type, or if no
instance could be generated (an untested rule is not a checked rule). A rule with sequence
variables is checked on instances of randomly drawn sequence lengths (`draw_instance`).
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from frittata.errors import FrittataError
from frittata.rewrites.instances import Instance, random_array
from frittata.rewrites.library import library_rules, load_file
from frittata.rewrites.matching import build_rhs, guards_hold
from frittata.rewrites.rules import Pattern, PVar, Rule
from frittata.rewrites.sequences import draw_instance
from frittata.terms.interp import evaluate
from frittata.terms.program import Program
from frittata.terms.term import Term

RTOL, ATOL = 1e-3, 1e-4


@dataclass
class CheckResult:
    """The outcome for one rule: examples tried and, on failure, a counterexample."""

    rule: Rule
    tried: int
    failure: str | None = None

    @property
    def passed(self) -> bool:
        return self.failure is None

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        text = f"{verdict} {self.rule.name:<42} {self.tried:>3} examples"
        return text if self.passed else f"{text}\n     {self.failure}"


def check_rule(rule: Rule, examples: int = 12, attempts: int = 600, seed: int = 0) -> CheckResult:
    """Check one rule on `examples` instances (drawn in at most `attempts` tries)."""
    rng = np.random.default_rng([seed, zlib.crc32(rule.name.encode())])
    tried = 0
    for _ in range(attempts):
        if tried >= examples:
            break
        fixed = draw_instance(rule, rng)
        if fixed is None:
            continue
        instance = Instance(fixed, rng)
        lhs = instance.build()
        if lhs is None or not guards_hold(fixed, instance.env):
            continue
        tried += 1
        failure = _compare(fixed, instance, lhs, rng)
        if failure:
            return CheckResult(rule, tried, failure)
    if tried == 0:
        return CheckResult(rule, 0, f"no instance satisfying the guards in {attempts} attempts ({rule.where})")
    return CheckResult(rule, tried)


def _compare(rule: Rule, instance: Instance, lhs: Term, rng) -> str | None:
    attrs = build_rhs(rule, instance.env)
    if attrs is None:
        return f"right side ill-typed or of another type than {lhs.type}; lhs = {lhs!r}"
    rhs = _rhs_term(rule.rhs, instance.terms, iter(attrs))
    program = Program({"lhs": lhs, "rhs": rhs})
    positive = bool(rng.random() < 0.5)
    inputs = {n: random_array(t, rng, positive) for n, t in program.inputs.items()}
    out = evaluate(program, inputs)
    if _close(out["lhs"], out["rhs"]):
        return None
    diff = _diff(out["lhs"], out["rhs"])
    shown = {n: v.tolist() if v.size <= 8 else f"{v.dtype}{list(v.shape)}" for n, v in inputs.items()}
    return f"counterexample: lhs = {lhs!r}; rhs = {rhs!r}; inputs {shown}; {diff}"


def _rhs_term(pattern: Pattern, terms: dict[str, Term], attrs) -> Term:
    if isinstance(pattern, PVar):
        return terms[pattern.name]
    kids = tuple(_rhs_term(a, terms, attrs) for a in pattern.args)
    return Term.make(pattern.op, kids, next(attrs))


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind != "f":
        return bool(np.array_equal(a, b))
    scale = float(np.max(np.abs(a[np.isfinite(a)]), initial=1.0))
    return bool(np.allclose(a, b, rtol=RTOL, atol=ATOL * scale, equal_nan=True))


def _diff(a: np.ndarray, b: np.ndarray) -> str:
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"lhs gives {a.dtype}{list(a.shape)}, rhs gives {b.dtype}{list(b.shape)}"
    bad = np.argwhere(~np.isclose(a, b, equal_nan=True) if a.dtype.kind == "f" else a != b)[0]
    at = tuple(int(i) for i in bad)
    return f"at index {at}: lhs {a[at]!r}, rhs {b[at]!r}"


def check_rules(rules: Iterable[Rule], examples: int = 12, seed: int = 0) -> list[CheckResult]:
    return [check_rule(r, examples, seed=seed) for r in rules for r in r.directions()]


def rules_check_main(files: list[str], out=sys.stdout) -> int:
    """`frittata rules check [FILES]`: check the given files (default: the library).

    Prints one line per rule and a summary; returns 0 if every rule passed, else 1.
    """
    try:
        rules = [r for f in files for r in load_file(f)] if files else library_rules()
    except FrittataError as err:
        print(f"error: {err}", file=out)
        return 1
    results = check_rules(rules)
    for result in results:
        print(result.line(), file=out)
    failed = [r.rule.name for r in results if not r.passed]
    summary = f"{len(results)} rules: {len(results) - len(failed)} passed, {len(failed)} failed"
    print(summary + (f" ({', '.join(failed)})" if failed else ""), file=out)
    return 1 if failed else 0
