"""The stores of a bit-serial kernel's sums: each pixel's block of V sums corrected (bipolar),
requantized by the epilogue if there is one, and stored in place or staged (`ByteStaging` a
vector at a time, `Staging` value by value)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING

from llvmlite import ir

from frittata.backends.llvm.bitserial_byte_staging import ByteStaging
from frittata.backends.llvm.bitserial_epilogue import Epilogue, requantize
from frittata.backends.llvm.bitserial_staging import Staging
from frittata.backends.llvm.irutil import I32, I64, i64, if_then
from frittata.backends.llvm.micro import splat
from frittata.backends.llvm.views import View

if TYPE_CHECKING:
    from frittata.backends.llvm.bitserial_emitter import Geometry, Tile
    from frittata.backends.llvm.kernel import Kernel


class Stores:
    """The stores of `Emitter` (see the module docstring)."""

    k: Kernel
    g: Geometry
    out: View
    out_type: ir.IntType
    stage: ByteStaging | Staging | None
    epilogue: Epilogue | None

    def store(self, n, tiles: tuple[ir.Value, ir.Value], oh, ows: list[ir.Value], state: Tile) -> None:
        """acc (bipolar: 2 acc - (2^B - 1) ones; requantized by the epilogue if there is one) of
        each pixel and block: staged as a vector of 8-bit values (`ByteStaging`), else lane by
        lane (`store_lanes`). The sums are corrected in `lanes_type`."""
        g, b = self.g, self.k.b
        (tile, inner), lanes = tiles, self.lanes_type
        for p, (accs, ow) in enumerate(zip(state.accs, ows)):
            correction = None
            if state.ones:
                ones = b.mul(b.load(state.ones[p]), i64((1 << g.b) - 1))
                correction = splat(b, b.trunc(ones, lanes.element) if lanes.element.width < 64 else ones, g.v)
            for m, slot in enumerate(accs):
                acc = self.sums(slot, lanes)
                if correction is not None:
                    acc = b.sub(b.shl(acc, ir.Constant(lanes, [1] * g.v)), correction)
                if self.epilogue is not None:
                    acc = requantize(self.k, g, self.epilogue, acc, b.add(b.mul(tile, i64(g.blocks)), i64(m)))
                if isinstance(self.stage, ByteStaging):
                    channel = b.add(b.mul(inner, i64(g.blocks * g.v)), i64(m * g.v))
                    self.stage.store(b.trunc(acc, ir.VectorType(self.out_type, g.v)), channel, ow)
                else:
                    self.store_lanes(n, tiles, oh, ow, m, acc)

    def store_lanes(self, n, tiles: tuple[ir.Value, ir.Value], oh, ow, m: int, acc: ir.Value) -> None:
        """Block m's values lane by lane into out[n, o, oh, ow] or its slot of the staging buffer;
        the lanes of the padding channels past O (in the last tile) are not stored."""
        g, b = self.g, self.k.b
        (tile, inner), out_type, spare = tiles, self.out_type, g.tiles * g.blocks * g.v - g.o
        for v in range(g.v):
            lane = m * g.v + v
            o = b.add(b.mul(tile, i64(g.blocks * g.v)), i64(lane))
            value = b.extract_element(acc, ir.Constant(I32, v))
            value = b.trunc(value, out_type) if out_type.width < value.type.width else value
            guard = if_then(b, b.icmp_signed("<", o, i64(g.o))) if lane >= g.blocks * g.v - spare else nullcontext()
            with guard:
                b.store(value, self.value_address(n, o, oh, ow, b.add(b.mul(inner, i64(g.blocks * g.v)), i64(lane))))

    @property
    def lanes_type(self) -> ir.VectorType:
        """The lanes the sums are corrected in: int32 when the output has at most 32 bits (exact:
        the correction wraps modulo 2^32 either way; a bias or an epilogue implies int32 out),
        else int64."""
        return ir.VectorType(I32 if self.out_type.width <= 32 else I64, self.g.v)

    def sums(self, slot, lanes: ir.VectorType) -> ir.Value:
        """A block's accumulated sums as a vector of V `lanes` (the int64 sums truncated)."""
        acc = self.k.b.load(slot)
        return self.k.b.trunc(acc, lanes) if lanes.element.width < 64 else acc

    def value_address(self, n, o, oh, ow, channel) -> ir.Value:
        """Where out[n, o, oh, ow] goes: in place, or the staging buffer's slot of the tile
        group's `channel` at pixel ow (a `ByteStaging` takes whole vectors, in `store`)."""
        if self.stage is None:
            return self.k.address(self.out, [n, o, oh, ow])
        assert isinstance(self.stage, Staging), "a ByteStaging takes a block's vector, not its values one by one"
        return self.stage.address(channel, ow)
