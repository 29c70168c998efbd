"""ONNX coverage: the ONNX backend node tests per operator, and torchvision models per opset.

    python bench/onnx_coverage.py [--models]

Prints, for every operator the importer claims, how many of its node tests (shipped in the
installed onnx package; those with dtypes frittata has) pass through `ft.from_onnx` +
`ft.evaluate`, the total, and the operators with failures and their first reason. With
--models, torchvision CNNs (random weights) exported at opsets 7, 9 and the newest are
evaluated and compared with onnxruntime (max |difference| / max |reference|).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import frittata as ft  # noqa: E402
from tests.terms.onnx_node_cases import cases, in_scope, outcome  # noqa: E402


def node_tests() -> None:
    per_op: dict[str, list[str | None]] = defaultdict(list)
    for case in cases():
        if in_scope(case):
            op = "expanded graphs" if case.operator.startswith("expanded:") else case.operator
            per_op[op].append(outcome(case))
    total = sum(len(v) for v in per_op.values())
    passed = sum(r is None for v in per_op.values() for r in v)
    for op, results in sorted(per_op.items()):
        ok = sum(r is None for r in results)
        first = next((r for r in results if r is not None), "")
        print(f"{op:28s} {ok:4d}/{len(results):<4d} {first[:90]}")
    print(f"node tests in scope: {passed}/{total} pass ({100 * passed / total:.1f}%), {len(per_op)} operators")


def models() -> None:
    from tests.terms.test_onnx_torchvision_opsets import MODELS, NEWEST, exported, onnxruntime

    with tempfile.TemporaryDirectory() as folder:
        for name in MODELS:
            for opset in (7, 9, NEWEST):
                model, sample = exported(name, opset, Path(folder))
                want = onnxruntime(model, sample)
                got = ft.evaluate(ft.from_onnx(model), {"x": sample})["y"]
                error = float(np.abs(got - want).max() / np.abs(want).max())
                print(f"{name:22s} opset {opset:2d}: relative max error {error:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", action="store_true", help="also run the torchvision models")
    args = parser.parse_args()
    node_tests()
    if args.models:
        models()


if __name__ == "__main__":
    main()
