"""How the tests call `torch.onnx.export` (needs nothing but the standard library, so a test
module may import it whether or not torch and torchvision are installed)."""

from __future__ import annotations


def exporter_options(dynamo: bool, opset: int) -> dict:
    """`torch.onnx.export`'s keywords for the dynamo exporter (quiet) or TorchScript's at `opset`."""
    return {"dynamo": True, "verbose": False} if dynamo else {"dynamo": False, "opset_version": opset}
