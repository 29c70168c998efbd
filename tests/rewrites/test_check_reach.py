"""What the rule checker reaches: each test breaks one library rule the way a mutant that once
survived `frittata rules check` did, and the checker (with the backends' runners, as the CLI
runs it) must reject it — a wide eps, batched contractions, sizes past one VTA block, integer
dtypes a dropped guard would let in, VTA kernels run on the simulator, size-1 axes that
broadcast."""

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
    ("lowbit.rules", "lower-bitserial-conv2d", ":encoding ?e :out", ':encoding "bipolar" :out', "counterexample"),
    ("lowbit.rules", "lower-bitserial-dense", ":bits (bit-width ?hi)", ":bits 1", "counterexample"),  # hi = 6
    # a [1 1 1 1] bias (a depthwise or one-tap weight's dim 1 is 1) the right side reshapes to [O]
    ("fusion.rules", "fuse-conv2d-bias", "[1 (dim ?w 0) 1 1]", "[1 (dim ?w 1) 1 1]", "ill-typed"),
    ("lowbit.rules", "fuse-bitserial-conv2d-bias", "[1 (dim ?w 0) 1 1]", "[1 (dim ?w 1) 1 1]", "ill-typed"),
    # a [1] bias when K = 1 < O (instances of sizes 1 and one above), which fused_dense refuses
    ("fusion.rules", "fuse-dense-bias", "[(dim ?w 0)]", "[(dim ?w 1)]", "ill-typed"),
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


def test_each_kernel_form_is_compiled_once_largest_first():
    """The largest instance of each form (dtypes, ranks, parameter-ness, epilogue class) is
    compiled, largest first; at least `COMPILED` instances, at most `FORMS`."""
    import numpy as np

    from frittata.rewrites.check import COMPILED, FORMS, _Case, _compiled_cases
    from frittata.terms import builders as tb

    def case(rows: int, epilogue: tuple, dtype: str = "float32", batch: tuple = ()) -> _Case:
        x, b = tb.var("x", batch + (rows, 4), dtype), tb.var("b", (3,), dtype)
        rhs = tb.fused_dense(x, tb.param("w", np.ones((3, 4), dtype)), b, epilogue=epilogue)
        return _Case(rhs, {}, np.zeros(rhs.shape, dtype))

    relu, clip, none = (("relu",),), (("clip", -1.0, 1.0),), (("clip", None, 1.0),)
    cases = [case(2, relu), case(9, relu), case(5, clip), case(3, none), case(7, relu, "int32"), case(8, relu)]
    assert [c.expected.shape[0] for c in _compiled_cases(cases)] == [9, 7, 5, 3]
    same = [case(r, relu) for r in (1, 4, 2)]
    assert [c.expected.shape[0] for c in _compiled_cases(same)] == [4, 2][:COMPILED]
    forms = [case(2, e, d, b) for e in (relu, clip) for d in ("float32", "int32") for b in ((), (2,))] + [case(1, none)]
    assert len(forms) > FORMS and len(_compiled_cases(forms)) == FORMS


def test_a_rule_is_run_on_the_backend_its_right_side_needs():
    from frittata.rewrites.check import _runner
    from frittata.rewrites.rule_format import parse_rules

    def rule(text: str):
        (found,) = parse_rules(text, family="t")
        return found

    runners = {"llvm": "L", "vta": "V"}
    assert _runner(rule("(rule a (relu (relu ?x)) => (relu ?x))"), runners) is None  # the interpreter is its meaning
    fused = "(rule b (add (dense ?x ?w) ?b) => (fused_dense ?x ?w ?b :epilogue []))"
    assert _runner(rule(fused), runners) == "L" and _runner(rule(fused), {}) is None
    vta = ('(rule c (vta_unpack ?y :block [1 16 16]) => (vta_unpack (vta_pack (vta_unpack ?y :block [1 16 16]) '
           ':role "act" :block [1 16 16]) :block [1 16 16]))')
    assert _runner(rule(vta), runners) == "V"


def test_the_vta_runner_freezes_inputs_into_parameters():
    import numpy as np

    from frittata.backends.rule_runners import frozen
    from frittata.terms import builders as tb

    x = tb.var("x", (2, 3))
    program = ft.Program({"y": tb.add(x, tb.param("p", np.ones((2, 3), np.float32)))})
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    cold = frozen(program, {"x": data})
    assert not cold.inputs and cold.outputs["y"].args[0].op.value == "param"
    np.testing.assert_array_equal(ft.evaluate(cold)["y"], data + 1)
