"""Models as users bring them: torchvision architectures and a transformer encoder exported by
`torch.onnx.export` (random weights, never downloaded), compiled by frittata and run by
onnxruntime from the same ONNX file, in the same run.

Prints the host CPU and its vector ISA, then per model and thread count (1 and 2) the median
latencies (the two timed alternately, as in bench/llvm_bench.py), the ratio frittata /
onnxruntime (below 1 is faster), the compile time (`ft.compile` from the imported program; the
second thread count's compile finds the first's kernels in the kernel cache unless it is off)
and the largest difference from onnxruntime's output relative to its largest value; last, the
geometric mean of the ratios per thread count.
Needs torch and torchvision (bench-only: `pip install torch torchvision`).

`--dynamo` exports with torch's default exporter (torch.export + onnxscript, opset 18+) instead
of the TorchScript one at opset 17.

Run: python bench/torch_models_bench.py [--repeat N] [--only NAME ...] [--size 224] [--dynamo]
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

import frittata as ft  # noqa: E402
from llvm_bench import host_description, ort_session, paired_medians  # noqa: E402
from tests.models.exporters import exporter_options  # noqa: E402
from tests.models.torchvision_export import export  # noqa: E402 - needs torch

TORCHVISION = ("resnet18", "resnet50", "mobilenet_v2", "squeezenet1_0", "efficientnet_b0", "convnext_tiny",
               "googlenet", "regnet_y_400mf")
ENCODER = "transformer_encoder"
"""torch.nn.TransformerEncoder: 2 layers, width 256, 4 heads, feed-forward 1024, sequence 128."""


def export_encoder(folder: Path, dynamo: bool) -> tuple[Path, np.ndarray]:
    import torch

    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(256, 4, dim_feedforward=1024, batch_first=True)
    model = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    sample = torch.randn(1, 128, 256, generator=torch.Generator().manual_seed(1))
    path = folder / f"{ENCODER}.onnx"
    torch.onnx.export(model, (sample,), str(path), input_names=["x"], output_names=["y"],
                      **exporter_options(dynamo, 17))
    return path, sample.numpy()


def bench_model(name: str, size: int, folder: Path, repeat: int, dynamo: bool) -> list[float]:
    """The model's rows; returns its ratios at 1 and 2 threads."""
    path, sample = (export_encoder(folder, dynamo) if name == ENCODER
                    else export(name, size, folder, dynamo=dynamo))
    model = onnx.load(str(path))
    program = ft.from_onnx(model)
    inputs = {"x": sample}
    ratios = []
    for threads in (1, 2):
        start = time.perf_counter()
        module = ft.compile(program, threads=threads)
        compile_s = time.perf_counter() - start
        session = ort_session(model, threads)
        want = session.run(None, inputs)[0]
        got = module.run(**inputs)["y"]
        error = float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), 1e-12))
        ours, theirs = paired_medians(functools.partial(module.run, **inputs),
                                      functools.partial(session.run, None, inputs), repeat)
        ratios.append(ours / theirs)
        print(f"{name:20s} t={threads}  frittata {ours:8.3f} ms  onnxruntime {theirs:8.3f} ms  "
              f"ratio {ours / theirs:5.2f}  compile {compile_s:6.2f} s  max rel diff {error:.1e}", flush=True)
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--dynamo", action="store_true", help="torch's default (dynamo) exporter")
    args = parser.parse_args()
    print(f"# {host_description()}", flush=True)
    names = [n for n in (*TORCHVISION, ENCODER) if args.only is None or n in args.only]
    ratios = []
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            ratios.append(bench_model(name, args.size, Path(folder), args.repeat, args.dynamo))
    for threads, column in zip((1, 2), zip(*ratios)):
        print(f"geomean t={threads} over {len(column)} models: {float(np.exp(np.mean(np.log(column)))):.2f}")


if __name__ == "__main__":
    main()
