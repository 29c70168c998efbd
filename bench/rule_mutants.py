"""Mutants of rule files, each judged by the rule property checker.

A rule file is read as s-expressions; every `(rule ...)` form yields mutants of four kinds:
`swap-operands` (two adjacent operands of an operator pattern), `drop-guard` (one `:if` guard),
`change-constant` (an integer +1, a float doubled or +1 when zero, true <-> false) and
`change-op` (an operator or an op name inside an attribute, e.g. a kernel expression or an
epilogue, replaced by its sibling in `OP_SIBLINGS`). Each mutant is one rule form re-printed,
parsed alone with the family its file gives it, and checked as `frittata rules check` checks
it (`frittata.rewrites.check.check_rules` with the LLVM and VTA runners, so kernels on the
right side are compiled and run): a failing rule kills it. A mutant the parser rejects is
stillborn (it could never ship, so it is left out of the score); a swap under a commutative
operator, or of two equal operands, is equivalent by construction and is not run.

Lives under bench/ (not tests/): it is a measuring instrument that `bench/mutation_score.py`
runs, not a test of frittata; tests/test_rule_mutants.py checks the instrument itself.

Run alone (`PYTHONPATH=. nice -n 19 python bench/rule_mutants.py [FILES] --out v.jsonl [--resume]`),
it judges every mutant of FILES (default: the library's rule files), appends one JSON line per
verdict to `--out` as it goes (`--resume` skips the ids already there, so a cut run continues),
and prints the tally with the survivors not listed in bench/equivalent_mutants.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from frittata.backends.rule_runners import RUNNERS
from frittata.errors import FrittataError
from frittata.rewrites.check import check_rules
from frittata.rewrites.library import library_files
from frittata.rewrites.rule_format import parse_rules
from frittata.rewrites.sexpr import Atom, SList, read

# Each operator's replacement under `change-op`: same operand count and attributes, other meaning.
OP_SIBLINGS = {
    "add": "sub", "sub": "add", "mul": "div", "div": "mul", "maximum": "minimum", "minimum": "maximum",
    "neg": "abs", "abs": "neg", "exp": "log", "log": "exp", "sqrt": "abs", "tanh": "sigmoid",
    "sigmoid": "tanh", "relu": "abs", "erf": "tanh", "round": "neg",
    "reduce_sum": "reduce_mean", "reduce_mean": "reduce_sum", "reduce_max": "reduce_sum",
}
COMMUTATIVE = frozenset({"add", "mul", "maximum", "minimum"})
KINDS = ("swap-operands", "drop-guard", "change-constant", "change-op")


@dataclass(frozen=True)
class RuleMutant:
    """One mutated rule form; `id` (FILE:RULE:KIND:N, the N-th mutant of that kind in the rule,
    stable when other lines of the file move) names it in reports and in the equivalent-mutant
    list. `equivalent` is the reason when it is equivalent by construction."""

    file: str
    family: str
    rule: str
    line: int
    col: int
    kind: str
    change: str
    form: SList
    equivalent: str | None = None
    ordinal: int = 0
    prelude: str = ""  # the file's (parameters ...) forms, which bind the rule's $parameters

    @property
    def id(self) -> str:
        return f"{Path(self.file).name}:{self.rule}:{self.kind}:{self.ordinal}"

    @property
    def text(self) -> str:
        return f"{self.prelude}\n{show(self.form)}" if self.prelude else show(self.form)


@dataclass(frozen=True)
class Verdict:
    """`status` is killed, survived, stillborn or equivalent; `detail` says why."""

    mutant: RuleMutant
    status: str
    detail: str = ""


def show(item: Atom | SList) -> str:
    """Rule-file text that reads back as `item`."""
    if isinstance(item, SList):
        closer = ")" if item.bracket == "(" else "]"
        return item.bracket + " ".join(show(i) for i in item.items) + closer
    match item.kind:
        case "string":
            return json.dumps(item.value)
        case "int" | "float" | "symbol":
            return str(item.value)
        case other:
            raise ValueError(f"show: expected an atom kind string/int/float/symbol, got {other!r}")


def file_mutants(path: Path) -> list[RuleMutant]:
    """Every mutant of every rule in the file at `path`, in file order."""
    family, prelude = path.stem, ""
    out: list[RuleMutant] = []
    for form in read(path.read_text(), str(path)):
        head = form.items[0].value if isinstance(form, SList) and form.items else None
        if head == "family":
            family = form.items[1].value
        elif head == "parameters":
            prelude = f"{prelude}\n{show(form)}".strip()
        elif head == "rule":
            seen: dict[str, int] = {}
            for m in _rule_mutations(form):
                seen[m[2]] = seen.get(m[2], 0) + 1
                out.append(RuleMutant(str(path), family, form.items[1].value, *m, ordinal=seen[m[2]],
                                      prelude=prelude))
    return out


def judge(mutant: RuleMutant) -> Verdict:
    """Parse the mutant alone and property-check it (every expansion and direction)."""
    if mutant.equivalent:
        return Verdict(mutant, "equivalent", mutant.equivalent)
    try:
        rules = parse_rules(mutant.text, mutant.file, family=mutant.family)
    except FrittataError as err:
        return Verdict(mutant, "stillborn", str(err))
    try:
        failed = [r for r in check_rules(rules, compiled=RUNNERS) if not r.passed]
    except Exception as err:  # noqa: BLE001 - a checker that stops with an error rejects the rule too
        return Verdict(mutant, "killed", f"checker crashed: {type(err).__name__}: {err}")
    if failed:
        return Verdict(mutant, "killed", f"{failed[0].rule.name}: {failed[0].failure}")
    return Verdict(mutant, "survived")


Mutation = tuple[int, int, str, str, SList, str | None]


def _rule_mutations(form: SList) -> Iterator[Mutation]:
    """(line, col, kind, change, mutated form, equivalent reason) for one rule form."""
    items = form.items
    for path, node, kind, change, equivalent in _pattern_sites(items[2], (2,), "lhs"):
        yield node.pos.line, node.pos.col, kind, change, _replace(form, path, _mutated(node, kind)), equivalent
    for path, node, kind, change, equivalent in _pattern_sites(items[4], (4,), "rhs"):
        yield node.pos.line, node.pos.col, kind, change, _replace(form, path, _mutated(node, kind)), equivalent
    yield from _guard_mutations(form)


def _guard_mutations(form: SList) -> Iterator[Mutation]:
    items = form.items
    starts = [i for i, it in enumerate(items) if isinstance(it, Atom) and it.value == ":if"]
    for start in starts:
        end = start + 1
        while end < len(items) and not _keyword(items[end]):
            end += 1
        for k in range(start + 1, end):
            keep = items[:start] + items[start + 1:k] + items[k + 1:] if end - start == 2 else items[:k] + items[k + 1:]
            guard = items[k]
            yield (guard.pos.line, guard.pos.col, "drop-guard", f"drop guard {show(guard)}",
                   SList(keep, form.bracket, form.pos), None)
            for path, node, kind, change, eq in _constant_sites(guard, (k,), "guard"):
                yield node.pos.line, node.pos.col, kind, change, _replace(form, path, _mutated(node, kind)), eq


def _pattern_sites(item, path: tuple, side: str) -> Iterator[tuple]:
    """(path, node, kind, change, equivalent) for each mutable spot of a pattern."""
    if not (isinstance(item, SList) and item.bracket == "(" and item.items):
        return
    head = item.items[0].value
    if head == "as":
        yield from _pattern_sites(item.items[2], path + (2,), side)
        return
    if head in OP_SIBLINGS:
        yield path + (0,), item.items[0], "change-op", f"{side}: {head} -> {OP_SIBLINGS[head]}", None
    operands = _operand_indices(item)
    for i, j in zip(operands, operands[1:]):
        a, b = item.items[i], item.items[j]
        if _sequence(a) or _sequence(b):
            continue
        equivalent = (f"{head} is commutative" if head in COMMUTATIVE
                      else "the swapped operands are equal" if show(a) == show(b) else None)
        swapped = item.items[:i] + (b, a) + item.items[j + 1:]
        yield (path, SList(swapped, "(", a.pos), "swap-operands",
               f"{side}: swap operands {i} and {j} of {head}", equivalent)
    for i in operands:
        yield from _pattern_sites(item.items[i], path + (i,), side)
    for k in range(operands[-1] + 1 if operands else 1, len(item.items)):
        if not _keyword(item.items[k]):
            yield from _constant_sites(item.items[k], path + (k,), side)


def _constant_sites(item, path: tuple, side: str) -> Iterator[tuple]:
    if isinstance(item, SList):
        for k, sub in enumerate(item.items):
            yield from _constant_sites(sub, path + (k,), side)
        return
    match item.kind, item.value:
        case "int", value:
            yield path, item, "change-constant", f"{side}: {value} -> {value + 1}", None
        case "float", value:
            yield path, item, "change-constant", f"{side}: {value} -> {value * 2 or 1.0}", None
        case "symbol", ("true" | "false") as value:
            yield path, item, "change-constant", f"{side}: {value} -> {_FLIP[value]}", None
        case "string", value if value in OP_SIBLINGS:
            yield path, item, "change-op", f"{side}: \"{value}\" -> \"{OP_SIBLINGS[value]}\"", None
        case _:
            return


_FLIP = {"true": "false", "false": "true"}


def _mutated(node, kind: str):
    """The replacement for `node` (a swap already built its new list; atoms change here)."""
    if isinstance(node, SList):
        return node
    match node.kind:
        case "int":
            return Atom(node.value + 1, "int", node.pos)
        case "float":
            return Atom(node.value * 2 or 1.0, "float", node.pos)
        case "symbol" if node.value in _FLIP:
            return Atom(_FLIP[node.value], "symbol", node.pos)
        case "symbol" | "string" if kind == "change-op":
            return Atom(OP_SIBLINGS[node.value], node.kind, node.pos)
        case other:
            raise ValueError(f"_mutated: expected a mutable atom, got {other} {node.value!r} ({kind})")


def _replace(form: SList, path: tuple, new) -> SList:
    if not path:
        return new
    head, rest = path[0], path[1:]
    items = form.items[:head] + (_replace(form.items[head], rest, new),) + form.items[head + 1:]
    return SList(items, form.bracket, form.pos)


def _operand_indices(node: SList) -> list[int]:
    out = []
    for k in range(1, len(node.items)):
        if _keyword(node.items[k]):
            break
        out.append(k)
    return out


def _keyword(item) -> bool:
    return isinstance(item, Atom) and item.kind == "symbol" and str(item.value).startswith(":")


def _sequence(item) -> bool:
    return isinstance(item, Atom) and str(item.value).endswith("...")


def run(files: list[Path], out: Path | None, resume: bool, log=sys.stderr) -> dict[str, dict]:
    """Judge every mutant of `files`; id -> {"status", "detail", "cpu"}, appended to `out` as
    one JSON line each when given (with `resume`, the ids already in `out` are not judged again)."""
    done: dict[str, dict] = {}
    if resume and out is not None and out.exists():
        done = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    mutants = [m for path in files for m in file_mutants(path)]
    for k, mutant in enumerate(mutants):
        if mutant.id in done:
            continue
        start = time.process_time()
        verdict = judge(mutant)
        record = {"id": mutant.id, "status": verdict.status, "detail": verdict.detail[:400],
                  "cpu": round(time.process_time() - start, 2)}
        done[mutant.id] = record
        if out is not None:
            with out.open("a") as sink:
                sink.write(json.dumps(record) + "\n")
        print(f"[{k + 1}/{len(mutants)}] {verdict.status:<10} {record['cpu']:6.1f} s  {mutant.id}",
              file=log, flush=True)
    return {m.id: done[m.id] for m in mutants}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="judge every rule-file mutant with the rule checker")
    parser.add_argument("files", nargs="*", type=Path, help="rule files (default: the library's)")
    parser.add_argument("--out", type=Path, help="JSON lines, one verdict each, appended as they come")
    parser.add_argument("--resume", action="store_true", help="skip the mutants already judged in --out")
    args = parser.parse_args(argv)
    verdicts = run(args.files or library_files(), args.out, args.resume)
    from bench.mutation_score import listed_equivalents

    listed = listed_equivalents()
    survivors = [i for i, r in verdicts.items() if r["status"] == "survived" and i not in listed]
    tally = Counter("equivalent (listed)" if r["status"] == "survived" and i in listed else r["status"]
                    for i, r in verdicts.items())
    print(f"{len(verdicts)} mutants: " + ", ".join(f"{n} {s}" for s, n in sorted(tally.items())))
    print(f"survivors not listed as equivalent ({len(survivors)}):", *survivors, sep="\n  ")


if __name__ == "__main__":
    main()
