"""Snapshot of the instruction listing of a small GEMM (readable text next to this test).

To regenerate after an intended change: `python -m tests.backends.vta.test_listing`.
"""

from pathlib import Path

import numpy as np

from frittata.backends.vta.hw.encode import decode_uop
from frittata.backends.vta.hw.listing import uop_listing
from frittata.backends.vta.matmul import MatmulTiling, emit_matmul, pack_matmul, unpack_matmul
from frittata.backends.vta.matmul_pipeline import Requant

from tests.backends.vta.helpers import Device

SNAPSHOT = Path(__file__).parent / "snapshots" / "small_gemm.txt"


def emit_small_gemm(a: np.ndarray, b: np.ndarray) -> tuple[Device, object, object]:
    """Emit requant(A @ B^T) for (8 x 32) A and (32 x 32) B in two double-buffered tiles."""
    dev = Device()
    pa, pb = pack_matmul(a, b, dev.cfg)
    c = dev.dram.alloc((8, 2, 1, 16), np.int8)
    emit_matmul(dev.em, dev.dram.put(pa), dev.dram.put(pb), c, Requant(),
                MatmulTiling(tm=4, tn=2, tk=2))
    return dev, dev.em.synchronize(), c


def small_gemm_listing() -> str:
    """A (8 x 32) @ (32 x 32) int8 GEMM, >> 8, clip [0, 127], in two double-buffered tiles."""
    dev, program, _ = emit_small_gemm(np.ones((8, 32), np.int8), np.ones((32, 32), np.int8))
    words = dev.dram.get(program.uops)
    uops = uop_listing(tuple(decode_uop(int(w), dev.cfg) for w in words))
    return (f"# {small_gemm_listing.__doc__}\n# config {dev.cfg.name}\n\n"
            + program.listing() + "\n# micro-ops in DRAM\n" + uops)


def test_small_gemm_listing_matches_snapshot():
    assert small_gemm_listing() == SNAPSHOT.read_text(), (
        f"listing changed; if intended, regenerate {SNAPSHOT.name} with "
        f"`python -m tests.backends.vta.test_listing`")


def test_the_snapshotted_stream_computes_the_gemm():
    """The oracle beside the snapshot: the same stream on random data, simulated, equals numpy."""
    rng = np.random.default_rng(21)
    a, b = rng.integers(-128, 128, (8, 32), dtype=np.int8), rng.integers(-128, 128, (32, 32), dtype=np.int8)
    dev, program, c = emit_small_gemm(a, b)
    assert program.listing() in SNAPSHOT.read_text()
    dev.sim.run(program.image())
    want = Requant().reference(a.astype(np.int32) @ b.T.astype(np.int32))
    np.testing.assert_array_equal(unpack_matmul(dev.dram.get(c)), want)
    assert want.any() and (want < 127).any()  # neither all clipped nor all zero


def test_listing_is_one_line_per_instruction():
    text = small_gemm_listing()
    body = [line for line in text.splitlines() if line[:4].isdigit()]
    assert body[-1].split()[1] == "FINISH"
    assert all("l2g=" in line and "g2s=" in line for line in body)


if __name__ == "__main__":
    SNAPSHOT.write_text(small_gemm_listing())
    print(f"wrote {SNAPSHOT}")
