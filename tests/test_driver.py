"""The driver's stages as a user meets them: what a compile leaves behind in the process."""

import os
import subprocess
import sys

COMPILE_AND_DROP = """
import gc, weakref
import numpy as np
import frittata as ft
import frittata.terms as T

def compiled():
    x = T.var("x", (4,))
    y = T.relu(T.add(x, T.param("w", np.ones(4, np.float32))))
    module = ft.compile(ft.Program({"y": y}), target="llvm")
    assert module.run(x=np.ones(4, np.float32))["y"].tolist() == [2.0] * 4
    assert "egglog" in __import__("sys").modules
    return weakref.ref(y)

ref = compiled()
gc.collect()
print("alive" if ref() is not None else "collected")
"""


def test_the_first_compile_of_a_process_leaves_its_program_collectable():
    """The first compile imports egglog, which keeps the frames that define its classes and so
    everything those frames' callers held: the program stayed alive for the life of the process.
    In a fresh process (egglog not yet imported), without the compile cache (a hit never imports
    it), the program's terms are collected once the module and the program are dropped."""
    env = {**os.environ, "FRITTATA_CACHE": "0"}
    done = subprocess.run([sys.executable, "-c", COMPILE_AND_DROP], capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["collected"]
