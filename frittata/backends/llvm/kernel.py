"""One kernel function under construction: `void name(ptr table, i32 tid, i32 nthreads, ptr barrier)`.

`table` holds the addresses of the buffers this kernel touches, in the order it first asks for
them (`buffers`); the caller fills it from the runtime pointer slots. Because a kernel never sees
slot numbers or arena offsets, two steps with the same workload and schedule emit the same
function text, which the build compiles once. A kernel's threads share its outermost parallel
loop in chunks taken from the team's work counter (`chunks`, `take`: the one place that defines
the chunking), so a thread the OS deschedules holds up only the chunks it has taken. Only the
tuned GEMM's "m" split keeps a static share each (`irutil.thread_range` directly), and says why
where it is taken.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from llvmlite import ir

from frittata.backends.jit import MAX_THREADS
from frittata.backends.llvm.irutil import I32, I64, PTR, VOID, element_ptr, for_range, i64, if_then, smin, thread_range
from frittata.backends.llvm.views import Buf, View
from frittata.errors import LoweringError

KERNEL_TYPE = ir.FunctionType(VOID, [PTR, I32, I32, PTR])
TAKE_CHUNKS = 32
"""Chunks `Kernel.chunks` cuts a loop into, at least (fewer than twice as many; one item each when
the loop has fewer items): few enough that the atomic add per chunk costs nothing beside a
chunk's work, enough that the last ones balance the threads."""
TAKE_LIMIT = 2**28
"""Loops of this many items or more are split statically. Headroom rule: the int32 work counter,
read unsigned, ends below total + (threads + 1) * chunk (each thread adds one chunk past the end),
which must stay under 2**32 for every total below this limit and every team up to MAX_THREADS."""
assert TAKE_LIMIT + (MAX_THREADS + 1) * (TAKE_LIMIT // TAKE_CHUNKS) < 2**32


class Kernel:
    """Emission context: the function, its builder, and cached buffer base pointers."""

    def __init__(self, module: ir.Module, name: str, lanes: int, barrier: ir.Function) -> None:
        self.module, self.lanes, self._barrier = module, lanes, barrier
        self.function = ir.Function(module, KERNEL_TYPE, name=name)
        self.function.attributes.add("nounwind")
        self.function.attributes.add("noinline")
        self.table, self.tid, self.nthreads, self.state = self.function.args
        self.b = ir.IRBuilder(self.function.append_basic_block("entry"))
        self._bases: dict[tuple[int, int], ir.Value] = {}
        self.buffers: list[tuple[int, int]] = []
        """(slot, byte offset) of each table entry, in table order."""
        self._spliced: dict[str, str] = {}
        self._counter_taken = False
        """A loop took from the work counter since the last barrier (`sync`)."""
        self._sync_first_end: tuple[str, ir.Block, int] | None = None
        """Loop name, exit block and its instruction count after a `repeat(sync_first=True)`."""

    def base(self, buf: Buf) -> ir.Value:
        """The address of `buf` (read from the table once, in the entry block)."""
        key = (buf.slot, buf.offset)
        if key not in self._bases:
            saved = self.b.block
            entry = self.function.entry_basic_block
            if entry.instructions:
                self.b.position_before(entry.instructions[0])
            else:
                self.b.position_at_end(entry)
            entry_at = self.b.gep(self.table, [i64(len(self.buffers))], source_etype=PTR, inbounds=True)
            self._bases[key] = self.b.load(entry_at, typ=PTR, align=8)
            self.buffers.append(key)
            self.b.position_at_end(saved)
        return self._bases[key]

    def address(self, view: View, indices: list[ir.Value]) -> ir.Value:
        """Address of `view`'s element at `indices` (bounds ignored)."""
        offset = i64(view.offset)
        for index, stride in zip(indices, view.strides):
            if stride:
                offset = self.b.add(offset, self.b.mul(index, i64(stride)))
        return element_ptr(self.b, self.base(view.buf), view.dtype, offset)

    def split(self, total) -> tuple[ir.Value, ir.Value]:
        """This thread's [lo, hi) of range(total)."""
        return thread_range(self.b, total, self.tid, self.nthreads)

    @contextmanager
    def take(self, total: int, name: str = "take") -> Iterator[ir.Value]:
        """`for i in range(total)`, the items shared out dynamically in chunks (`chunks`)."""
        with self.chunks(total) as (first, end):
            with for_range(self.b, first, end, name=name) as index:
                yield index

    @contextmanager
    def chunks(self, total: int) -> Iterator[tuple[ir.Value, ir.Value]]:
        """[first, end) of each chunk of range(total) this thread takes: total // TAKE_CHUNKS
        consecutive items (at least one) at a time from the team's work counter (an atomic add)
        until none are left, so a thread the OS deschedules holds up only the items it has
        taken, where a static split (`split`) makes the others wait at the barrier for its whole
        share. A team of one takes all the items as one chunk (the loops inside a chunk may keep
        data in cache across its items: Winograd keeps a block's transformed input across the
        chunk's items of that block).
        The barrier zeroes the counter, so a kernel takes from it in one loop between two
        barriers at most (asserted here: `sync` in between). A WebAssembly module (one thread, a
        barrier that does nothing) runs range(total) as one chunk; an NVPTX one (a block's
        `bar.sync`, which keeps no counter) and a loop of `TAKE_LIMIT` items or more take this
        thread's static share (`split`) as their one chunk.

        A static share is empty when total < nthreads: its chunk is then not run at all (a
        consumer may compute end - 1), so it is emitted under `if first < end`.

        Blocks: pre ─► claim ─(first < total)─► body (the chunk) ─► claim; claim ─► end."""
        if self._counter_taken:
            raise LoweringError(f"kernel {self.function.name}: expected a barrier (`sync`) before a second loop "
                                "takes from the work counter, got a second loop before a barrier")
        b = self.b
        if self.module.triple.startswith(("wasm", "nvptx")) or total >= TAKE_LIMIT:
            lo, hi = (i64(0), i64(total)) if self.module.triple.startswith("wasm") else self.split(total)
            with if_then(b, b.icmp_signed("<", lo, hi), "share"):
                yield lo, hi
            return
        self._counter_taken = True
        alone = b.icmp_signed("==", self.nthreads, ir.Constant(I32, 1))
        chunk = b.select(alone, ir.Constant(I32, max(1, total)), ir.Constant(I32, max(1, total // TAKE_CHUNKS)))
        work = b.gep(self.state, [i64(2)], source_etype=I32)
        claim = b.append_basic_block("take.claim")
        body = b.append_basic_block("take.body")
        end = b.append_basic_block("take.end")
        b.branch(claim)
        b.position_at_end(claim)
        # unsigned: the counter may pass 2**31 (TAKE_LIMIT's headroom rule), never 2**32
        first = b.zext(b.atomic_rmw("add", work, chunk, "monotonic"), I64)
        b.cbranch(b.icmp_unsigned("<", first, i64(total)), body, end)
        b.position_at_end(body)
        yield first, smin(b, b.add(first, b.zext(chunk, I64)), i64(total))
        b.branch(claim)
        b.position_at_end(end)

    @contextmanager
    def repeat(self, count: int, name: str = "n", sync_first: bool = False) -> Iterator[ir.Value]:
        """`for i in range(count)` around passes that take from the work counter (a loop over a
        batch's images): a pass that takes must end with `sync`, or the next pass's take would
        start where this one's stopped and skip its items (refused at emission). With
        `sync_first`, every pass but the first starts with the `sync` instead, so the last
        pass's barrier is the one the kernel's caller waits at after it (one barrier fewer per
        call). Such a loop must be the kernel's last code: its last pass ends without a barrier,
        so code after it could read the pass's output while other threads still write it
        (refused in `finish`)."""
        if sync_first and self._counter_taken:
            raise LoweringError(f"kernel {self.function.name}: expected a barrier (`sync`) before loop {name!r}, "
                                "whose first pass starts without one, got a loop that took from the work counter")
        with for_range(self.b, 0, count, name=name) as index:
            if sync_first:
                with if_then(self.b, self.b.icmp_signed(">", index, i64(0)), f"{name}.sync"):
                    self.sync()
            yield index
            if self._counter_taken and not sync_first:
                raise LoweringError(f"kernel {self.function.name}: expected a barrier (`sync`) at the end of each "
                                    f"pass of loop {name!r}, got a pass that ends after taking from the work counter")
        if sync_first and self._sync_first_end is None:
            self._sync_first_end = (name, self.b.block, len(self.b.block.instructions))

    def sync(self) -> None:
        """Wait until every thread of the team has reached this point (the barrier zeroes the
        work counter)."""
        self.b.call(self._barrier, [self.state, self.nthreads])
        self._counter_taken = False

    def splice(self, ftype: ir.FunctionType, name: str, definition: str) -> ir.Function:
        """A function of the unit given as its definition's text (built once for many units):
        declared here, so calls to it can be built, and defined in `text()`."""
        self._spliced[name] = definition
        return ir.Function(self.module, ftype, name=name)

    def text(self) -> str:
        """The unit's IR text, each spliced function's declaration replaced by its definition."""
        text = str(self.module)
        for name, definition in self._spliced.items():
            declaration = re.search(rf'^declare [^\n]*@"{re.escape(name)}"\(.*$', text, re.MULTILINE)
            assert declaration is not None, name
            text = text[:declaration.start()] + definition.rstrip("\n") + text[declaration.end():]
        return text

    def finish(self) -> ir.Function:
        """Return from the kernel; refused where code follows a `repeat(sync_first=True)`."""
        if self._sync_first_end is not None:
            name, block, count = self._sync_first_end
            if self.b.block is not block or len(block.instructions) != count:
                raise LoweringError(f"kernel {self.function.name}: expected loop {name!r} (sync_first, its last "
                                    "pass ends without a barrier) to be the kernel's last code, got code after it")
        self.b.ret_void()
        return self.function

