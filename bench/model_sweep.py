"""A sweep of models as new users bring them: torchvision architectures beyond the ones the tests
and bench/torch_models_bench.py cover, a causal nn.TransformerEncoder and a GPT-style block with a
dynamic sequence length, each exported by torch's TorchScript exporter (at several opsets) and
its dynamo exporter, imported by `ft.from_onnx`, compiled by `ft.compile` for the CPU, run, and
compared with onnxruntime on the same file.

Each case runs in its own process under a time limit (a crash or a hang is a row, not the end of
the sweep). Prints a markdown table: model, exporter, opset, status, the largest absolute
difference and the same relative to onnxruntime's largest output, onnxruntime's own relative
distance from torch in float64 (random weights can make a deep network ill-conditioned: float32
itself is then far from exact, and a difference within twice onnxruntime's own is
"ill-conditioned", not wrong), and `ft.compile`'s seconds (wall, the host loaded by other jobs).
Random weights only (never downloaded).
Needs torch and torchvision (bench-only).

Run: PYTHONPATH=. python bench/model_sweep.py [--only NAME ...] [--timeout S] [--exporters ts17 dynamo ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VISION = {
    # name: image size (small where the architecture allows it, to keep the sweep short)
    "densenet121": 64, "googlenet": 64, "inception_v3": 299, "shufflenet_v2_x1_0": 64,
    "mnasnet1_0": 64, "mobilenet_v3_large": 64, "efficientnet_v2_s": 64, "regnet_x_400mf": 64,
    "resnext50_32x4d": 64, "wide_resnet50_2": 64, "squeezenet1_1": 64, "alexnet": 224,
    "vgg11_bn": 224, "convnext_tiny": 64, "swin_t": 64, "vit_b_16": 64, "maxvit_t": 224,
}
SEGMENTATION = {"fcn_resnet50": 64, "deeplabv3_mobilenet_v3_large": 64, "lraspp_mobilenet_v3_large": 64}
SEQUENCE = ("causal_encoder", "gpt_block_dynamic")
EXPORTERS = {"ts11": (False, 11), "ts13": (False, 13), "ts17": (False, 17), "ts18": (False, 18),
             "dynamo": (True, 18)}


class CausalEncoder:
    """nn.TransformerEncoder (2 layers, width 64, 4 heads) with a causal mask built in forward."""

    @staticmethod
    def build():
        import torch

        class Model(torch.nn.Module):
            def __init__(self):
                super().__init__()
                layer = torch.nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, batch_first=True)
                self.encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

            def forward(self, x):
                mask = torch.nn.Transformer.generate_square_subsequent_mask(x.shape[1])
                return self.encoder(x, mask=mask, is_causal=True)

        return Model().eval()


class GPTBlock:
    """A GPT block (pre-norm, causal attention by a lower-triangular mask sliced to the input's
    length, GELU MLP) exported with a dynamic sequence axis."""

    @staticmethod
    def build():
        import torch
        from torch import nn

        class Model(nn.Module):
            def __init__(self, width=64, heads=4, context=64):
                super().__init__()
                self.heads = heads
                self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
                self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
                self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
                self.register_buffer("tril", torch.tril(torch.ones(context, context)).bool())

            def forward(self, x):
                b, t, c = x.shape
                q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
                q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
                att = (q @ k.transpose(-2, -1)) / (c // self.heads) ** 0.5
                att = att.masked_fill(~self.tril[:t, :t], float("-inf")).softmax(-1)
                y = (att @ v).transpose(1, 2).reshape(b, t, c)
                x = x + self.proj(y)
                return x + self.mlp(self.ln2(x))

        return Model().eval()


def export_case(name: str, dynamo: bool, opset: int, folder: Path):
    """Export `name`; the ONNX path, the sample input, the shapes to fix at import and the
    model's output computed by torch in float64 (None where the model does not run in it)."""
    import torch

    from tests.models.exporters import exporter_options
    from tests.models.torchvision_export import randomized

    generator = torch.Generator().manual_seed(1)
    options = exporter_options(dynamo, opset)
    shapes = None
    dynamic: dict = {}
    if name in SEQUENCE:
        torch.manual_seed(0)
        model = CausalEncoder.build() if name == "causal_encoder" else GPTBlock.build()
        sample = torch.randn(1, 16, 64, generator=generator)
        if name == "gpt_block_dynamic":
            dynamic = ({"dynamic_shapes": {"x": {1: torch.export.Dim("seq", min=2, max=64)}}} if dynamo
                       else {"dynamic_axes": {"x": {1: "seq"}, "y": {1: "seq"}}})
            shapes = {"x": [1, 16, 64]}
    else:
        size = VISION.get(name) or SEGMENTATION[name]
        if name in SEGMENTATION:
            import torchvision
            torch.manual_seed(0)
            model = getattr(torchvision.models.segmentation, name)(weights=None, weights_backbone=None,
                                                                   aux_loss=False).eval()
            model = _main_output(model).eval()
        elif name == "vit_b_16":
            import torchvision
            torch.manual_seed(0)
            model = torchvision.models.vit_b_16(weights=None, image_size=size).eval()
            with torch.no_grad():  # torchvision zeroes the head: the output would be all zeros
                model.heads.head.weight.normal_(0.0, 0.05, generator=generator)
        else:
            model = randomized(name, 0)
        sample = torch.randn(1, 3, size, size, generator=generator)
    path = folder / f"{name}.onnx"
    torch.onnx.export(model, (sample,), str(path), input_names=["x"], output_names=["y"], **options, **dynamic)
    try:
        with torch.no_grad():
            exact = model.double()(sample.double()).numpy()
    except (RuntimeError, TypeError):
        exact = None
    return path, sample.numpy(), shapes, exact


def _main_output(model):
    """A segmentation model returning its "out" tensor alone (torchvision returns a dict)."""
    import torch

    class Wrapped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(x)["out"]

    return Wrapped()


def run_case(name: str, exporter: str) -> dict:
    """One row: export, onnxruntime, import, compile, run, compare."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    import frittata as ft

    dynamo, opset = EXPORTERS[exporter]
    row = {"model": name, "exporter": "dynamo" if dynamo else "torchscript", "opset": opset}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path, sample, shapes, exact = export_case(name, dynamo, opset, Path(tmp))
        except Exception as error:  # noqa: BLE001 - torch's own failure is a row
            return row | {"status": f"export failed: {type(error).__name__}: {str(error).splitlines()[0][:120]}"}
        row["opset"] = next(o.version for o in onnx.load(str(path), load_external_data=False).opset_import
                            if o.domain in ("", "ai.onnx"))
        want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": sample})[0]
        try:
            program = ft.from_onnx(str(path), shapes=shapes)
            start = time.perf_counter()
            module = ft.compile(program, target="llvm")
            row["compile_s"] = round(time.perf_counter() - start, 1)
            got = module.run(x=sample)["y"]
        except ft.FrittataError as error:
            return row | {"status": f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"}
        diff = float(np.abs(got.astype(np.float64) - want).max())
        scale = float(np.abs(want).max())
        ok = got.shape == want.shape and np.allclose(got, want, rtol=1e-3, atol=1e-4 * max(scale, 1e-6))
        row |= {"abs": diff, "rel": diff / max(scale, 1e-30)}
        if exact is not None:  # onnxruntime's own distance from float64: how well-conditioned the model is
            row["ort_rel"] = float(np.abs(want - exact).max()) / max(float(np.abs(exact).max()), 1e-30)
        status = "ok" if ok else "ill-conditioned" if diff <= 2 * row.get("ort_rel", 0.0) * scale else "WRONG"
        return row | {"status": status}


def table(rows: list[dict]) -> str:
    lines = ["| model | exporter | opset | status | max abs diff | rel diff | ort vs float64 | compile s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        abs_, rel = (f"{r['abs']:.2e}", f"{r['rel']:.2e}") if "abs" in r else ("", "")
        exact = f"{r['ort_rel']:.1e}" if "ort_rel" in r else ""
        lines.append(f"| {r['model']} | {r['exporter']} | {r['opset']} | {r['status']} | {abs_} | {rel} | {exact} "
                     f"| {r.get('compile_s', '')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="model names")
    parser.add_argument("--exporters", nargs="*", default=["ts17", "dynamo"], choices=sorted(EXPORTERS))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per case")
    parser.add_argument("--case", nargs=2, metavar=("MODEL", "EXPORTER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(*args.case)))
        return
    rows = []
    for name in args.only or [*VISION, *SEGMENTATION, *SEQUENCE]:
        for exporter in args.exporters:
            dynamo, opset = EXPORTERS[exporter]
            row = {"model": name, "exporter": "dynamo" if dynamo else "torchscript", "opset": opset}
            try:
                done = subprocess.run([sys.executable, __file__, "--case", name, exporter], capture_output=True,
                                      text=True, timeout=args.timeout)
                lines = done.stdout.strip().splitlines()
                row = json.loads(lines[-1]) if done.returncode == 0 and lines else row | {
                    "status": f"crash (exit {done.returncode}): {(done.stderr.strip().splitlines() or [''])[-1][:160]}"}
            except subprocess.TimeoutExpired:
                row |= {"status": f"timeout ({args.timeout:.0f} s)"}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
