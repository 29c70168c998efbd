"""The ONNX backend node tests as a gate: every node test of the operators frittata claims,
whose dtypes frittata has, passes through `ft.from_onnx` + `ft.evaluate`, except the cases
listed below with the reason each still fails. A case that starts passing must leave the list.

Out of scope (not counted): node tests using an operator the importer does not claim, and node
tests with a tensor dtype frittata has no term type for — bfloat16, float8 (e4m3, e5m2, ...),
float4, int4/uint4, int2/uint2, string, complex — or sequence / optional values.
"""

from __future__ import annotations

from frittata.terms.dtypes import CORE_DTYPES
from tests.terms.onnx_node_cases import Case, dtypes, cases, in_scope, llvm, outcome

KNOWN_FAILURES = {
    # ConvTranspose is 1-D or 2-D.
    "conv transpose 3-D": "convtranspose_3d",
    # Training mode is random (Dropout) or computes batch statistics (BatchNormalization): inference only.
    "training mode": """batchnorm_example_training_mode batchnorm_epsilon_training_mode training_dropout_default
                        training_dropout_default_mask training_dropout training_dropout_mask""",
}
EXPECTED_TO_FAIL = {"test_" + name for names in KNOWN_FAILURES.values() for name in names.split()}


def test_node_tests_of_claimed_operators_pass_in_the_interpreter():
    scope = [c for c in cases() if in_scope(c)]
    failures = {c.name: reason for c in scope if (reason := outcome(c)) is not None}
    unexpected = {name: reason for name, reason in failures.items() if name not in EXPECTED_TO_FAIL}
    assert not unexpected, f"{len(unexpected)} node tests fail: {unexpected}"
    fixed = EXPECTED_TO_FAIL - set(failures)
    assert not fixed, f"these node tests pass now; remove them from KNOWN_FAILURES: {sorted(fixed)}"
    print(f"ONNX node tests: {len(scope) - len(failures)} of {len(scope)} in scope pass")


def test_one_node_test_per_operator_compiles_for_llvm_and_matches():
    """The first passing node test of each operator in the core dtypes, compiled with
    `ft.compile(..., target="llvm")`."""
    first: dict[str, Case] = {}
    for case in cases():
        if (in_scope(case) and case.operator not in first and not case.operator.startswith("expanded:")
                and dtypes(case.model) <= set(CORE_DTYPES) and outcome(case) is None):
            first[case.operator] = case
    failures = {op: reason for op, case in first.items() if (reason := outcome(case, llvm)) is not None}
    assert not failures, failures
    print(f"LLVM: one node test for each of {len(first)} operators passes")


def test_node_tests_in_other_dtypes_compile_for_llvm_and_match():
    """Every passing node test whose tensors include a dtype beyond the core ones (float16,
    float64, int16, uint16, uint32, uint64: comparisons, arithmetic, Max/Min, casts, CumSum and
    Einsum in float64, Range in float16, ...) also runs compiled for LLVM."""
    other = [c for c in cases() if in_scope(c) and not c.operator.startswith("expanded:")
             and not dtypes(c.model) <= set(CORE_DTYPES) and outcome(c) is None]
    assert len(other) >= 90, len(other)
    failures = {c.name: reason for c in other if (reason := outcome(c, llvm)) is not None}
    assert not failures, failures


COMPOSED = """averagepool_1d_default averagepool_3d_dilations_small averagepool_2d_ceil_last_window_starts_on_pad
maxpool_2d_dilations maxpool_3d_dilations averagepool_2d_ceil reduce_max_empty_set
reduce_log_sum_exp_empty_set scatter_elements_with_reduction_mul scatter_elements_with_reduction_min
scatternd_max scatternd_multiply pow_types_int64_int64 pow_types_int32_float32""".split()


def _named(names: list[str]) -> dict[str, Case]:
    chosen = {c.name: c for c in cases() if c.name.removeprefix("test_") in names}
    assert len(chosen) == len(names), sorted(set(names) - {n.removeprefix("test_") for n in chosen})
    return chosen


def test_windows_empty_reductions_and_scatter_reductions_compile_for_llvm_and_match():
    """The converters that build these from other ops (pooling over 1-D, 3-D and dilated windows
    as strided slices, with ceil mode and padding counted, a max over no elements as a constant,
    an integer pow in float64) and the scatters that fold updates with *, max and min give
    programs the LLVM backend runs to the node tests' outputs. The 3-D average pools are the
    small ones: a 5x5x5 window over 32^3 imports as 125 slices and took 27 s of CPU to compile;
    the interpreter test runs it, and test_onnx_windows compiles a 3-D dilated ceil-mode
    average that counts its padding against onnxruntime."""
    failures = {name: reason for name, case in _named(COMPOSED).items() if (reason := outcome(case, llvm)) is not None}
    assert not failures, failures
