"""Train a perceptron and a small CNN on scikit-learn's 8x8 digits with compiled training steps.

Each model's training step (forward, gradients by `ft.grad`, Adam update) is one program
compiled for the CPU by `ft.compile`; a progress bar shows epoch, loss and held-out accuracy, the
loss curves go to a PNG, and each trained model is exported to ONNX and checked in onnxruntime.
The full run asserts 95% (MLP) and 97% (CNN) held-out accuracy; `--quick` trains the MLP for two
epochs (what CI runs).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import frittata as ft
from frittata.autodiff import bind_params
from frittata.autodiff.models import classifier, mlp, small_cnn
from frittata.terms.onnx_export import to_onnx

MODELS = {  # builder, batch, epochs, Adam learning rate, required held-out accuracy
    "mlp": (mlp, 64, 40, 3e-3, 0.95),
    "cnn": (small_cnn, 32, 25, 3e-3, 0.97),
}


def digits(model: str) -> tuple[np.ndarray, ...]:
    """Train/test split (80/20, stratified) of the digits, scaled to [0, 1], labels one-hot."""
    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)
    x = images.reshape(-1, 64) if model == "mlp" else images[:, None]
    y = np.eye(10, dtype=np.float32)[data.target]
    return tuple(train_test_split(x, y, test_size=0.2, random_state=0, stratify=data.target))


def accuracy(model: ft.Program, x: np.ndarray, y: np.ndarray) -> float:
    logits = ft.evaluate(model, {"x": x})["logits"]
    return float((logits.argmax(1) == y.argmax(1)).mean())


def train(name: str, epochs: int, out: Path) -> tuple[list[float], float]:
    build, batch, _, lr, _ = MODELS[name]
    x_train, x_test, y_train, y_test = digits(name)
    step = ft.optim.TrainStep(classifier(build(batch)), ft.optim.Adam(lr=lr))
    started = time.perf_counter()
    step.compile("llvm")
    print(f"{name}: train step compiled in {time.perf_counter() - started:.1f} s")
    test_model = ft.Program({"logits": build(len(x_test))})
    rng = np.random.default_rng(0)
    losses: list[float] = []
    bar = tqdm(range(epochs), desc=name, unit="epoch")
    for _ in bar:
        order = rng.permutation(len(x_train))
        for first in range(0, len(order) - batch + 1, batch):
            rows = order[first:first + batch]
            losses.append(step.step(x=x_train[rows], y=y_train[rows]))
        held_out = accuracy(bind_params(test_model, step.params), x_test, y_test)
        bar.set_postfix(loss=f"{np.mean(losses[-10:]):.4f}", acc=f"{held_out:.4f}")
    print(f"{name}: {step.steps} steps in {time.perf_counter() - started:.1f} s, held-out accuracy {held_out:.4f}")
    check_onnx(bind_params(test_model, step.params), x_test, out / f"digits_{name}.onnx")
    return losses, held_out


def check_onnx(model: ft.Program, x: np.ndarray, path: Path) -> None:
    """Export the trained model and compare onnxruntime's logits with the interpreter's."""
    import onnxruntime

    proto = to_onnx(model)
    path.write_bytes(proto.SerializeToString())
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {"x": x})[0]
    np.testing.assert_allclose(theirs, ft.evaluate(model, {"x": x})["logits"], rtol=1e-4, atol=1e-4)
    print(f"exported {path}; onnxruntime agrees")


def plot(curves: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for name, losses in curves.items():
        axes.plot(losses, label=name, linewidth=0.8)
    axes.set(xlabel="training step", ylabel="cross-entropy loss", yscale="log", title="digits")
    axes.legend()
    figure.savefig(path, dpi=120, bbox_inches="tight")
    print(f"loss curves: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--epochs", type=int, default=None, help="epochs per model (default: each model's own)")
    parser.add_argument("--quick", action="store_true", help="two epochs of the MLP, accuracy >= 80%%")
    parser.add_argument("--out", type=Path, default=None, help="folder for the plot and ONNX files")
    args = parser.parse_args()
    models, epochs = (["mlp"], 2) if args.quick else (args.models, args.epochs)
    out = args.out or Path(tempfile.mkdtemp(prefix="train_digits-"))
    out.mkdir(parents=True, exist_ok=True)
    curves = {}
    for name in models:
        curves[name], held_out = train(name, epochs or MODELS[name][2], out)
        required = 0.80 if args.quick or epochs else MODELS[name][4]
        assert held_out >= required, f"{name}: held-out accuracy {held_out:.4f} below {required}"
    plot(curves, out / "digits_loss.png")


if __name__ == "__main__":
    main()
