"""torchvision architectures exported as users export them: `torch.onnx.export` of a model
with random weights (never downloaded), batch-norm statistics drawn away from their identity
initialisation so that every layer shapes the output."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import torch
import torchvision

from tests.models.exporters import exporter_options


SMALL = {
    # DenseNet-121's structure at a test's size: a block of 10 layers, so its concats take up to
    # 11 inputs (the exporter writes one Concat of every earlier feature map per layer)
    "densenet_small": lambda: torchvision.models.DenseNet(growth_rate=8, block_config=(2, 10),
                                                          num_init_features=16),
}


def randomized(name: str, seed: int):
    """torchvision's `name` (or one of SMALL) in eval mode, weights scaled by fan-in,
    batch-norm statistics random."""
    generator = torch.Generator().manual_seed(seed)
    build = SMALL.get(name) or (lambda: getattr(torchvision.models, name)(weights=None))
    model = build().eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.weight.copy_(0.5 + torch.rand(module.weight.shape, generator=generator))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))
                module.running_mean.copy_(0.1 * torch.randn(module.running_mean.shape, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(module.running_var.shape, generator=generator))
            elif isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
                if module.bias is not None:
                    module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))
    return model


def export(name: str, size: int, folder: Path, seed: int = 0, opset: int = 17,
           dynamo: bool = False) -> tuple[Path, np.ndarray]:
    """Export `name` for a 1x3xSIZExSIZE input named "x"; the ONNX path and a sample input.

    `dynamo=True` is torch's default exporter (torch.export, then onnxscript's optimizer; the
    opset is the exporter's own, 18 or later, and `opset` is ignored); `dynamo=False` the
    TorchScript exporter at `opset`."""
    model = randomized(name, seed)
    sample = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed + 1))
    path = folder / f"{name}_{size}{'_dynamo' if dynamo else ''}.onnx"
    torch.onnx.export(model, (sample,), str(path), input_names=["x"], output_names=["y"],
                      **exporter_options(dynamo, opset))
    return path, sample.numpy()
