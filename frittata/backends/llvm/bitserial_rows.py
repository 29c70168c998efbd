"""How a bit-serial kernel's word steps walk a kernel row and when its byte counters are
flushed into the accumulators: the flush plan (`flush_plan`), a row's taps as loops over their
words (`tap_loops`), or a short row unrolled (`row_steps`), and a tap of one word more than the
counters' room flushed once where no pixel's words are all ones or no channel's weight
words are (`stretches_room`, `tap_fills`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from frittata.backends.llvm.irutil import for_range, i64, if_then

if TYPE_CHECKING:
    from frittata.backends.llvm.bitserial_emitter import Geometry, Tile
    from frittata.backends.llvm.kernel import Kernel


class RowSteps:
    """The row walk and flushes of `Emitter` (see the module docstring)."""

    k: Kernel
    g: Geometry
    room: int
    plan: tuple[str, int]
    chunk_words: int
    nibbles: bool
    wtype: ir.IntType

    if TYPE_CHECKING:
        def step(self, n, ih, iws, tile, r: ir.Value, s: int, word, state: Tile, checked: bool) -> None: ...

        def flush(self, state: Tile) -> None: ...

        def load_x(self, n, ih, iw, plane: int, word, checked: bool) -> ir.Value: ...

    def flush_plan(self) -> tuple[str, int]:
        """Where byte counters are summed into the accumulators, at most `room` words apart:
        ("window", 0) once, ("rows", F) every F kernel rows, ("taps", F) every F taps of a row,
        ("words", F) every F words of a tap and at its end; ("none", 0) without byte counters.
        A row that `unrolls_row` ignores the taps and words plans: `row_steps` flushes after
        every `room` word steps of the row, runs that cross the taps, and after its last step.
        A1W1 on the one-plane table kernel (words of a tap > its 3 words of room), a flush every
        word -> every 3 words and at the tap's end, one Zen 3 core, CPU time, 9 rounds, load ~4:
        256 -> 256 at 56x56 4.26 -> 4.06 ms, 512 -> 512 at 28x28 3.96 -> 3.81."""
        g = self.g
        if not self.nibbles:
            return "none", 0
        per_row = g.kw * g.words
        if g.kh * per_row <= self.room:
            return "window", 0
        if per_row <= self.room:
            return "rows", self.room // per_row
        if g.words <= self.room:
            return "taps", self.room // g.words
        return "words", self.room

    def tap_loops(self, n, ih, ows: list[ir.Value], at: tuple[ir.Value, ir.Value], first_word: ir.Value,
                  state: Tile, checked: bool) -> None:
        """The taps of kernel row at[1] for tile at[0], unrolled, each a loop over its words,
        flushed as `flush_plan` says (by words or by taps)."""
        g, b = self.g, self.k.b
        sw, dw = g.strides[1], g.dilations[1]
        plan, every = self.plan
        stretched = plan == "words" and self.chunk_words == every + 1 and self.stretches_room
        for s in range(g.kw):
            iws = [b.add(b.mul(ow, i64(sw)), i64(s * dw)) for ow in ows]
            full = self.tap_fills(n, ih, iws, first_word, checked) if stretched else None
            with for_range(b, 0, self.chunk_words, name="word") as word:
                self.step(n, ih, iws, at[0], at[1], s, b.add(first_word, word), state, checked)
                if plan == "words":
                    self.flush_words(word, every, state, full)
            if plan == "taps" and ((s + 1) % every == 0 or s == g.kw - 1):
                self.flush(state)

    @property
    def unrolled_row(self) -> tuple[int, int] | None:
        """The kernel rows `row_steps` unrolls (`unrolls_row`), as (taps, words a tap); None: none."""
        return None

    @property
    def unrolls_row(self) -> bool:
        """Whether a kernel row's word steps (those of the reduction chunk) are straight-line code
        (`row_steps`): a row that `flush_plan` flushes by taps or words, of `unrolled_row`'s taps
        and words a tap."""
        row = self.g.kw, self.chunk_words
        return self.plan[0] in ("taps", "words") and row == self.unrolled_row

    def row_steps(self, n, ih, ows: list[ir.Value], at: tuple[ir.Value, ir.Value], first_word: ir.Value,
                  state: Tile, checked: bool) -> None:
        """The word steps of kernel row at[1] for tile at[0], unrolled tap by tap, flushed after
        every `room` steps and after the row's last, so runs of `room` words cross the taps."""
        g, b = self.g, self.k.b
        sw, dw = g.strides[1], g.dilations[1]
        steps, done = g.kw * self.chunk_words, 0
        for s in range(g.kw):
            iws = [b.add(b.mul(ow, i64(sw)), i64(s * dw)) for ow in ows]
            for word in range(self.chunk_words):
                self.step(n, ih, iws, at[0], at[1], s, b.add(first_word, i64(word)), state, checked)
                done += 1
                if done % self.room == 0 or done == steps:
                    self.flush(state)

    @property
    def stretches_room(self) -> bool:
        """Whether a tap of `room` + 1 words may be flushed once, at its end, unless a pixel's
        words of the tap are all ones (`all_ones`): whether only those words can take a byte
        counter past 255. No: `room` is the general bound."""
        return False

    @property
    def weights_fill_tap(self) -> bool:
        """Whether some channel's weight words of a tap's chunk are all ones, so that a pixel
        whose words are all ones too adds 256 to its count (`tap_fills`). Yes: the weights are
        not known here."""
        return True

    def tap_fills(self, n, ih, iws: list[ir.Value], first_word: ir.Value, checked: bool) -> ir.Value:
        """Whether a count can reach 256 in the tap's chunk of `room` + 1 = 4 words
        (`stretches_room`): a count over words k is Σ popcount(x_k & w_k), 256 only where every
        x_k and w_k is all ones, so `all_ones` of the pixels where some channel's weights are
        (`weights_fill_tap`), else false without a test."""
        if not self.weights_fill_tap:
            return ir.Constant(ir.IntType(1), 0)
        return self.all_ones(n, ih, iws, first_word, checked)

    def all_ones(self, n, ih, iws: list[ir.Value], first_word: ir.Value, checked: bool) -> ir.Value:
        """Whether any pixel at `iws` has every bit of its activation words of the tap's chunk
        set (plane 0; padding columns read as zeros)."""
        b, full = self.k.b, None
        for iw in iws:
            words = [self.load_x(n, ih, iw, 0, b.add(first_word, i64(w)), checked) for w in range(self.chunk_words)]
            both = words[0]
            for word in words[1:]:
                both = b.and_(both, word)
            test = b.icmp_signed("==", both, ir.Constant(self.wtype, -1))
            full = test if full is None else b.or_(full, test)
        assert full is not None
        return full

    def flush_words(self, word: ir.Value, every: int, state: Tile, full: ir.Value | None = None) -> None:
        """Flush after word `word` of a tap (counted from the chunk's first) if it ends a run of
        `every` words or the chunk's words of the tap (after every word, unconditionally, when
        `every` is 1: a branch that is always taken still changed how LLVM compiled the
        two-plane table kernel, which ran 1.4x slower with it). With `full` (`stretches_room`:
        a tap of every + 1 words), a run's end flushes only where `full` is true."""
        if every == 1:
            self.flush(state)
            return
        b = self.k.b
        done = b.add(word, i64(1))
        ends_run = b.icmp_signed("==", b.urem(done, i64(every)), i64(0))
        if full is not None:
            ends_run = b.and_(ends_run, full)
        due = b.or_(ends_run, b.icmp_signed("==", done, i64(self.chunk_words)))
        with if_then(b, due, "flush"):
            self.flush(state)
