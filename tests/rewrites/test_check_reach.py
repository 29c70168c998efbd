"""What the rule checker reaches: each test breaks one library rule the way a mutant that once
survived `frittata rules check` did, and the checker (with the backends' runners, as the CLI
runs it) must reject it — a wide eps, batched contractions, sizes past one VTA block, integer
dtypes a dropped guard would let in, VTA kernels run on the simulator."""

from pathlib import Path

import pytest

import frittata as ft
from frittata.backends.rule_runners import RUNNERS
from frittata.rewrites.check import check_rule
from frittata.rewrites.library import load_file

RULES = Path(ft.__file__).parent / "rewrites" / "rules"


def _broken(tmp_path, file: str, rule: str, old: str, new: str):
    """Rule `rule` of library file `file` with the first `old` after its head replaced by `new`."""
    text = (RULES / file).read_text()
    start = text.index(f"(rule {rule}\n") if f"(rule {rule}\n" in text else text.index(f"(rule {rule} ")
    at = text.index(old, start)
    path = tmp_path / file
    path.write_text(text[:at] + new + text[at + len(old):])
    (found,) = [r for r in load_file(str(path)) if r.name == rule]
    return found


CASES = [  # file, rule, old, new, what the failure says
    ("fold.rules", "fold-batch-norm-conv2d", "(add ?var", "(sub ?var", "counterexample"),  # eps up to 0.5
    ("fold.rules", "fold-batch-norm-dense", " (rank-is ?x 2)", "", ""),  # rank-3 dense input
    ("quant_vta.rules", "tensorize-vta-zero-point-matmul", " (rank-is ?w 2)", "", ""),  # batched matmul
    ("tensorize_vta.rules", "tensorize-vta-pad-dense-out", "(round-up (dim ?w 0)", "(round-up (dim ?w 1)", ""),
    ("tensorize_vta.rules", "tensorize-vta-dense", ' (dtype-is ?w "int8")', "", ""),  # int32/uint8 weights
    ("tensorize_vta.rules", "tensorize-vta-dense", " (vta-epilogue ?e)", "", ""),  # clip past 16 bits
]


@pytest.mark.parametrize("file, rule, old, new, says", CASES, ids=[f"{c[1]}:{c[3] or 'drop' + c[2]}" for c in CASES])
def test_the_checker_rejects_a_broken_rule(tmp_path, file, rule, old, new, says):
    result = check_rule(_broken(tmp_path, file, rule, old, new), compiled=RUNNERS)
    assert not result.passed and says in result.failure, result.line()


def test_the_unbroken_rules_pass_with_their_kernels_run():
    names = {c[1] for c in CASES}
    rules = [r for f in {c[0] for c in CASES} for r in load_file(str(RULES / f)) if r.name in names]
    results = [check_rule(r, compiled=RUNNERS) for r in rules]
    assert len(results) == len(names) and all(r.passed for r in results), [r.line() for r in results]
    assert all(r.compiled >= 2 for r in results if r.rule.name.startswith("tensorize-vta-dense"))
