"""Mutation score of frittata's tests: per package (mutmut) and for the rule files (the checker).

Python packages: mutmut (configured in pyproject's [tool.mutmut]) generates the mutants of
`frittata/terms`, `rewrites`, `extract` and the VTA simulator; `bench/mutant_runner.py` judges
them, each first on the selected tests that run its function (learnt once per mutants/ folder
under coverage, `bench/reach_map.py`), then, while the budget lasts, a survivor on the rest of
the selection as whole files; a test failing without the mutant too, or passing when rerun with
it (flaky), is deselected, not counted.
The selection is the whole test suite but the files pyproject's [tool.frittata.mutation] leaves
out (with its reasons). The full sets (thousands of mutants) do not fit a run on a 2-core
machine, so a fixed-seed random sample of `--sample` mutants per package is judged, and the
score comes with a 95% Wilson interval for that sample. Rule files: every mutant of
`bench/rule_mutants.py` is judged by the property checker (`frittata rules check`).

Mutants listed in bench/equivalent_mutants.md (a line "- `ID`: reason") are left out of the
score as equivalent. Mutants not judged within `--budget` minutes ("not run"), or whose tests
were still passing when their `--cap` ran out ("cap"), are counted apart, never as killed; the
run says why it stopped. A mutant cut at its cap in a test that had run ten times as long as
that test takes unmutated ("timeout": it made the test hang) counts as killed, as mutmut
counts a timeout (`mutant_runner.hung`). Survivors are listed with FILE:LINE and the change.

`--rejudge` scores the same sample again after tests were added: it keeps the mutants/ folder
of the earlier run (its population, so the same seed draws the same sample) and its verdicts
(mutants/verdicts.json), and reruns only the sampled mutants that were not killed, on the
current tests; a killed verdict stands, since tests are only added between the two runs. The
source must be the earlier run's (mutmut regenerates the mutants of a changed function under
new numbers), and so must the tests but for the added ones: a tree rebased since then has
tests of code the mutants/ folder does not have, which fail to collect there ("suspicious").

Run: nice -n 19 python bench/mutation_score.py [--sample 40] [--budget 45] [--cap 240] [--only rules,terms]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.mutant_runner import MUTANTS, NOT_KILLED, Verdict, judge_all  # noqa: E402
from bench.rule_mutants import file_mutants, judge  # noqa: E402
from frittata.rewrites.library import library_files  # noqa: E402

PACKAGES = {
    "terms": ("frittata.terms.",),
    "rewrites": ("frittata.rewrites.",),
    "extract": ("frittata.extract.",),
    "vta-sim": tuple(f"frittata.backends.vta.hw.{m}." for m in
                     ("simulator", "machine", "alu", "gemm_core", "dram", "timing", "encode")),
}
EQUIVALENTS = ROOT / "bench" / "equivalent_mutants.md"
KILLED = {"killed", "timeout"}
UNJUDGED = ("not run", "cap", "equivalent", "stillborn")
VERDICTS = MUTANTS / "verdicts.json"
REACH = MUTANTS / "reach.json"
GENERATE = """
import os, mutmut.__main__ as m
m.set_mutant_under_test("mutant_generation")
os.makedirs("mutants", exist_ok=True)
m.copy_src_dir(); m.copy_also_copy_files(); m.setup_source_paths(); m.create_mutants({jobs})
"""


@dataclass
class Tally:
    """Verdicts of one package: status -> mutant ids, plus the population size."""

    name: str
    population: int
    sampled: list[str] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)

    def count(self, *statuses: str) -> int:
        return sum(1 for s in self.status.values() if s in statuses)

    def judged(self) -> int:
        return sum(1 for s in self.status.values() if s not in UNJUDGED)

    def killed(self) -> int:
        return sum(1 for s in self.status.values() if s in KILLED)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for k successes in n trials."""
    if n == 0:
        return 0.0, 1.0
    p, d = k / n, 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def listed_equivalents() -> dict[str, str]:
    """Mutant id -> reason, from bench/equivalent_mutants.md."""
    if not EQUIVALENTS.exists():
        return {}
    text = EQUIVALENTS.read_text().split("\n## Not equivalent")[0]
    found = re.findall(r"^- `([^`]+)`: (.+)$", text, re.MULTILINE)
    return dict(found)


def rule_tally(equivalents: dict[str, str], survivors: list[str]) -> Tally:
    mutants = [m for path in library_files() for m in file_mutants(path)]
    tally = Tally("rules", len(mutants), [m.id for m in mutants])
    for mutant in mutants:
        verdict = judge(mutant)
        status = "equivalent" if verdict.status == "survived" and mutant.id in equivalents else verdict.status
        tally.status[mutant.id] = status
        if status == "survived":
            survivors.append(f"  {Path(mutant.file).name}:{mutant.line}  [{mutant.rule}] {mutant.change}"
                             f"  ({mutant.id})")
    return tally


def generate_mutants(jobs: int) -> list[str]:
    """A fresh mutants/ folder; every mutant's name. The reach map of the old one is kept: it
    says itself which test files the changes since make stale (`ReachMap.update`)."""
    kept = REACH.read_bytes() if REACH.exists() else None
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    subprocess.run([sys.executable, "-c", GENERATE.format(jobs=jobs)], cwd=ROOT, check=True, capture_output=True)
    if kept is not None:
        REACH.write_bytes(kept)
    return mutant_names()


def mutant_names() -> list[str]:
    """Every mutant's name in the mutants/ folder (mutmut's .meta files list them)."""
    names: list[str] = []
    for meta in sorted((MUTANTS / "frittata").rglob("*.py.meta")):
        names += json.loads(meta.read_text())["exit_code_by_key"]
    return names


def python_tallies(names: list[str], args: argparse.Namespace, deadline: float, equivalents: dict[str, str],
                   survivors: list[str], only: set[str]) -> list[Tally]:
    """Sample each package, judge the samples (`mutant_runner.judge_all`), and tally the
    verdicts per package."""
    tallies = []
    for package in (p for p in PACKAGES if p in only):
        population = sorted(n for n in names if n.startswith(PACKAGES[package]))
        picked = random.Random(args.seed).sample(population, min(args.sample, len(population)))
        tallies.append(Tally(package, len(population), sorted(picked)))
    earlier = {}
    if args.rejudge and VERDICTS.exists():
        earlier = {n: Verdict(**v) for n, v in json.loads(VERDICTS.read_text()).items()}
    rounds = itertools.zip_longest(*(t.sampled for t in tallies))  # packages in turn: a cut run stays balanced
    pending = [n for r in rounds for n in r if n is not None and n not in equivalents
               and (n not in earlier or earlier[n].status not in KILLED)]

    def save(judged: dict[str, Verdict]) -> None:
        VERDICTS.write_text(json.dumps({n: vars(v) for n, v in {**earlier, **judged}.items()}, indent=1))

    verdicts, stopped = judge_all(pending, args.cap, deadline, save, earlier)
    verdicts = {**earlier, **verdicts}
    print(stopped, file=sys.stderr)
    for tally in tallies:
        for name in tally.sampled:
            status = "equivalent" if name in equivalents else verdicts.get(name, Verdict("not run")).status
            tally.status[name] = status
            if status in NOT_KILLED:
                survivors.append(f"  {describe(name)}  [{status}]  ({name})")
    return tallies


def describe(name: str) -> str:
    """FILE:LINE  `old` -> `new` for a mutmut mutant."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        diff = get_diff_for_mutant(name).splitlines()
    except Exception as err:  # noqa: BLE001 - a mutant mutmut cannot show is still listed
        return f"(no diff: {type(err).__name__})"
    finally:
        os.chdir(cwd)
    path = ROOT / (name.rsplit("__mutmut_", 1)[0].rsplit(".", 1)[0].replace(".", "/") + ".py")
    old = next((d[1:].strip() for d in diff if d.startswith("-") and not d.startswith("---")), "")
    new = next((d[1:].strip() for d in diff if d.startswith("+") and not d.startswith("+++")), "")
    lines = path.read_text().splitlines()
    line = next((k + 1 for k, text in enumerate(lines) if old and text.strip() == old), 0)
    return f"{path.relative_to(ROOT)}:{line}  `{old}` -> `{new}`"


def report(tallies: list[Tally], sample: int, seed: int) -> None:
    print(f"mutation score (seed {seed}; Python packages: random sample of {sample} mutants each; "
          f"rules: every mutant)")
    print(f"{'package':<10}{'mutants':>8}{'sampled':>8}{'judged':>7}{'killed':>7}{'survived':>9}"
          f"{'equiv':>6}{'stillb':>7}{'unjudged':>9}{'score':>8}   95% interval")
    for t in tallies:
        judged, killed = t.judged(), t.killed()
        score = f"{100 * killed / judged:.1f}%" if judged else "-"
        low, high = wilson(killed, judged)
        exact = t.name == "rules" and judged + t.count("equivalent", "stillborn") == t.population
        interval = "exact (every mutant)" if exact else f"[{100 * low:.0f}%, {100 * high:.0f}%]"
        print(f"{t.name:<10}{t.population:>8}{len(t.sampled):>8}{judged:>7}{killed:>7}"
              f"{judged - killed:>9}{t.count('equivalent'):>6}{t.count('stillborn'):>7}"
              f"{t.count('not run', 'cap'):>9}{score:>8}   {interval}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=40, help="mutants judged per Python package")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=float, default=45, help="minutes for the whole run")
    parser.add_argument("--jobs", type=int, default=1, help="processes generating mutants")
    parser.add_argument("--cap", type=float, default=240, help="seconds of tests per mutant at most")
    parser.add_argument("--only", default=",".join(["rules", *PACKAGES]), help="comma-separated packages")
    parser.add_argument("--rejudge", action="store_true",
                        help="rerun the earlier run's sample (its mutants/ folder) where it was not killed")
    args = parser.parse_args()
    only = set(args.only.split(","))
    deadline = time.time() + 60 * args.budget
    equivalents, survivors, tallies = listed_equivalents(), [], []
    if "rules" in only:
        tallies.append(rule_tally(equivalents, survivors))
    if only & set(PACKAGES):
        names = mutant_names() if args.rejudge else generate_mutants(args.jobs)
        tallies += python_tallies(names, args, deadline, equivalents, survivors, only)
    report(tallies, args.sample, args.seed)
    print(f"\nsurviving mutants ({len(survivors)}):")
    print("\n".join(survivors))


if __name__ == "__main__":
    main()
