"""One kernel function under construction: `void name(ptr table, i32 tid, i32 nthreads, ptr barrier)`.

`table` holds the addresses of the buffers this kernel touches, in the order it first asks for
them (`buffers`); the caller fills it from the runtime pointer slots. Because a kernel never sees
slot numbers or arena offsets, two steps with the same workload and schedule emit the same
function text, which the build compiles once. A kernel's threads share its outermost parallel
loop in chunks taken from the team's work counter (`chunks`, `take`: the one place that defines
the chunking), so a thread the OS deschedules holds up only the chunks it has taken. Even
threads take chunks from the loop's front, odd ones from its back: on a team of two each thread
takes the same end of every loop, so when both run, the next kernel's thread finds much of its
input in its own cache (a loop over rows or channels reads what the same thread wrote). Only the
tuned GEMM's "m" split keeps a static share each (`irutil.thread_range` directly), and says why
where it is taken.

The team's state (int32 words, `BARRIER_WORDS`; their indices are `barrier`'s `STATE_*`): the
barrier's arrival count, one 64-bit word {phase (high half), items claimed (low half)}, the
items done in the phase, the counts of threads asleep on the phase and on the items done, and
from `STATE_OWN` on each thread's own phase, the count of barriers it has passed. The phases are the
stretches between the team's barriers. A thread takes items by compare-and-swap on the word,
only while its phase is the word's: a thread that comes late to a phase the team has finished
takes nothing, never items of a later phase. A phase whose only work is one loop taken from
the counter, and whose other code writes no memory (`phase_claim`), lets the barrier that ends
it wait for the items rather than the threads: the first thread to find every item done starts
the next phase, and a thread the OS descheduled before it took an item (thread 0 too) skips the
phase.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from llvmlite import ir

from frittata.backends.llvm.barrier import LOCKED, STATE_DONE, STATE_OWN, STATE_WORK, WHOLE_TEAM, signal_event
from frittata.backends.llvm.irutil import I32, I64, PTR, VOID, element_ptr, for_range, i64, if_then, smin, thread_range
from frittata.backends.llvm.views import Buf, View
from frittata.errors import LoweringError

KERNEL_TYPE = ir.FunctionType(VOID, [PTR, I32, I32, PTR])
TAKE_CHUNKS = 32
"""Chunks `Kernel.chunks` cuts a loop into, at least (fewer than twice as many; one item each when
the loop has fewer items): few enough that the atomic add per chunk costs nothing beside a
chunk's work, enough that the last ones balance the threads."""
TAKE_LIMIT = 2**28
"""Loops of this many items or more are split statically: the count of items done is an int32
up to the total, and a chunk's first item (chunk index x chunk) an i64."""
assert TAKE_LIMIT < 2**31
CHUNK_BITS = 15
"""Bits of each of the two counts of chunks claimed in the work word's low half: from the front
(bits 0-14) and from the back (bits 15-29). A loop has fewer than 2 * TAKE_CHUNKS chunks, and a
claim is made only while their sum is below that number, so neither count can overflow; bit 31
is the barrier's `LOCKED`."""
assert 2 * TAKE_CHUNKS < 2**CHUNK_BITS and 2 * CHUNK_BITS < 31


class Kernel:
    """Emission context: the function, its builder, and cached buffer base pointers."""

    def __init__(self, module: ir.Module, name: str, lanes: int, barrier: ir.Function,
                 byte_quads: bool = False) -> None:
        self.module, self.lanes, self._barrier = module, lanes, barrier
        self.byte_quads = byte_quads
        """The int8 convolution multiplies quads of bytes (`cpu_geometry.byte_quads`), not int16 pairs."""
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
        self._phase_start: tuple[ir.Block, ir.Instruction | None] = (self.b.block, None)
        """The block where the current phase's code starts, and the last `sync`'s barrier call
        in it (None: the kernel's start)."""
        self._claims: list[tuple[int, ir.Block, ir.Block]] = []
        """Each loop of the phase taken from the counter: its total, its first and its exit block."""
        self._static = False
        """The phase has a static share (`split`), or a loop that may run no pass (`repeat`)."""
        self.claim_total: int | None = None
        """Set by `finish`: the `phase_claim` of the kernel's last phase, which the barrier after
        the kernel's call ends."""

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
        self._static = True
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
        consecutive items (at least one) at a time from the team's work counter (a
        compare-and-swap, while the counter's phase is this thread's; an even thread takes the
        first chunk left, an odd one the last, `_claim`) until none are left, so a
        thread the OS deschedules holds up only the items it has taken, where a static split
        (`split`) makes the others wait at the barrier for its whole share. A team of one takes
        all the items as one chunk (the loops inside a chunk may keep
        data in cache across its items: Winograd keeps a block's transformed input across the
        chunk's items of that block).
        After each chunk the thread counts its items done (`_count_done`: what a barrier waiting
        for claimed work, `claim_total`, waits on). The barrier starts a new phase with no items
        claimed, so a kernel takes from the counter in one loop between two
        barriers at most (asserted here: `sync` in between). A WebAssembly module (one thread, a
        barrier that does nothing) runs range(total) as one chunk; an NVPTX one (a block's
        `bar.sync`, which keeps no counter) and a loop of `TAKE_LIMIT` items or more take this
        thread's static share (`split`) as their one chunk.

        A static share is empty when total < nthreads: its chunk is then not run at all (a
        consumer may compute end - 1), so it is emitted under `if first < end`.

        Blocks: `_counter_chunks`, `_claim`."""
        if self._counter_taken:
            raise LoweringError(f"kernel {self.function.name}: expected a barrier (`sync`) before a second loop "
                                "takes from the work counter, got a second loop before a barrier")
        static = self.module.triple.startswith(("wasm", "nvptx")) or total >= TAKE_LIMIT
        with self._static_chunk(total) if static else self._counter_chunks(total) as bounds:
            yield bounds

    @contextmanager
    def _static_chunk(self, total: int) -> Iterator[tuple[ir.Value, ir.Value]]:
        """This thread's static share (`split`; all of range(total) on WebAssembly) as its one
        chunk, run only if it is not empty."""
        self._static = True
        b = self.b
        lo, hi = (i64(0), i64(total)) if self.module.triple.startswith("wasm") else self.split(total)
        with if_then(b, b.icmp_signed("<", lo, hi), "share"):
            yield lo, hi

    @contextmanager
    def _counter_chunks(self, total: int) -> Iterator[tuple[ir.Value, ir.Value]]:
        """The chunks taken from the work counter (`chunks`).

        Blocks: pre ─► start ─(team of one)─► body ─► end;
        start ─► claim (`_claim`) ─(claimed)─► body (the chunk) ─► done ─► claim; claim ─► end."""
        self._counter_taken = True
        b = self.b
        opening = b.append_basic_block("take.start")
        b.branch(opening)
        b.position_at_end(opening)
        alone, chunk, own = self._take_facts(total)
        pre = b.block
        claim, body = b.append_basic_block("take.claim"), b.append_basic_block("take.body")
        out = b.append_basic_block("take.end")
        b.cbranch(alone, body, claim)
        b.position_at_end(claim)
        swap, first = self._claim(total, own, body, out)
        b.position_at_end(body)
        start = b.phi(I64, name="first")
        start.add_incoming(i64(0), pre)
        start.add_incoming(first, swap)
        end = smin(b, b.add(start, chunk), i64(total))
        yield start, end
        done = b.append_basic_block("take.done")
        b.cbranch(alone, out, done)
        b.position_at_end(done)
        self._count_done(total, b.trunc(b.sub(end, start), I32))
        b.branch(claim)
        self._claims.append((total, opening, out))
        b.position_at_end(out)

    def _take_facts(self, total: int) -> tuple[ir.Value, ir.Value, ir.Value]:
        """(whether the team is this thread alone, the items of a chunk: all of them alone, else
        total // TAKE_CHUNKS, at least one; this thread's phase, as the work counter's high half
        holds it)."""
        b = self.b
        alone = b.icmp_signed("==", self.nthreads, ir.Constant(I32, 1))
        chunk = b.select(alone, i64(max(1, total)), i64(max(1, total // TAKE_CHUNKS)))
        own_at = b.gep(self.state, [b.add(self.tid, ir.Constant(I32, STATE_OWN))], source_etype=I32)
        return alone, chunk, b.zext(b.load(own_at, typ=I32, align=4), I64)

    def _count_done(self, total: int, items: ir.Value) -> None:
        """Add a chunk's `items` to the phase's count of items done; the chunk that completes
        the loop's `total` signals the threads asleep in the barrier (`barrier.signal_event`)."""
        b = self.b
        before = b.atomic_rmw("add", b.gep(self.state, [i64(STATE_DONE)], source_etype=I32), items, "seq_cst")
        with if_then(b, b.icmp_signed("==", b.add(before, items), ir.Constant(I32, total)), "take.last"):
            signal_event(b, self.state)

    def _claim(self, total: int, own: ir.Value, body: ir.Block, out: ir.Block) -> tuple[ir.Block, ir.Value]:
        """Emit, from the current block: while the word's phase is `own`, it is not `LOCKED` and
        chunks (of total // TAKE_CHUNKS items, at least one; the last one shorter) are left,
        compare-and-swap one more chunk claimed, from the loop's front (the count in bits 0-14)
        on an even thread, from its back (bits 15-29) on an odd one; on success go to `body`,
        else to `out`. Returns the block that branches to `body` and the first item claimed.

        Blocks: claim ─► try ─(phase ours, unlocked, chunks left)─► swap ─(swapped)─► body;
        swap ─(lost the race)─► try; try ─(else)─► out."""
        b = self.b
        word = b.gep(self.state, [i64(STATE_WORK)], source_etype=I32)
        field, size = i64(2**CHUNK_BITS - 1), max(1, total // TAKE_CHUNKS)
        count = i64(-(-total // size))
        back = b.icmp_unsigned("!=", b.and_(self.tid, ir.Constant(I32, 1)), ir.Constant(I32, 0))
        step = b.select(back, i64(2**CHUNK_BITS), i64(1))
        seen = b.load_atomic(word, "acquire", 8, typ=I64)
        pre = b.block
        attempt, swap = b.append_basic_block("take.try"), b.append_basic_block("take.swap")
        b.branch(attempt)
        b.position_at_end(attempt)
        current = b.phi(I64, name="word")
        current.add_incoming(seen, pre)
        front_taken, back_taken = b.and_(current, field), b.and_(b.lshr(current, i64(CHUNK_BITS)), field)
        ours = b.icmp_unsigned("==", b.lshr(current, i64(32)), own)
        unlocked = b.icmp_unsigned("==", b.and_(current, i64(LOCKED)), i64(0))
        left = b.icmp_unsigned("<", b.add(front_taken, back_taken), count)
        b.cbranch(b.and_(b.and_(ours, unlocked), left), swap, out)
        b.position_at_end(swap)
        index = b.select(back, b.sub(b.sub(count, i64(1)), back_taken), front_taken)
        first = b.mul(index, i64(size))
        pair = b.cmpxchg(word, current, b.add(current, step), "acq_rel", "acquire")
        current.add_incoming(b.extract_value(pair, 0), swap)
        b.cbranch(b.extract_value(pair, 1), body, attempt)
        return swap, first

    @contextmanager
    def repeat(self, count: int, name: str = "n", sync_first: bool = False) -> Iterator[ir.Value]:
        """`for i in range(count)` around passes that take from the work counter (a loop over a
        batch's images; one pass is emitted as straight code with i = 0): a pass that takes must
        end with `sync`, or the next pass's take would start where this one's stopped and skip
        its items (refused at emission). With `sync_first`, every pass but the first starts with
        the `sync` instead, so the last
        pass's barrier is the one the kernel's caller waits at after it (one barrier fewer per
        call). Such a loop must be the kernel's last code: its last pass ends without a barrier,
        so code after it could read the pass's output while other threads still write it
        (refused in `finish`)."""
        if sync_first and self._counter_taken:
            raise LoweringError(f"kernel {self.function.name}: expected a barrier (`sync`) before loop {name!r}, "
                                "whose first pass starts without one, got a loop that took from the work counter")
        with nullcontext(i64(0)) if count == 1 else for_range(self.b, 0, count, name=name) as index:
            if sync_first and count > 1:
                with if_then(self.b, self.b.icmp_signed(">", index, i64(0)), f"{name}.sync"):
                    self.sync()
            yield index
            if self._counter_taken and not sync_first:
                raise LoweringError(f"kernel {self.function.name}: expected a barrier (`sync`) at the end of each "
                                    f"pass of loop {name!r}, got a pass that ends after taking from the work counter")
        if count < 1:
            self._static = True  # the loop's claims never run: no barrier may wait for them
        if sync_first and self._sync_first_end is None:
            self._sync_first_end = (name, self.b.block, len(self.b.block.instructions))

    def sync(self) -> None:
        """Wait until every thread of the team has reached this point (the barrier zeroes the
        work counter)."""
        claimed = self.phase_claim()
        call = self.b.call(self._barrier, [self.state, self.nthreads, self.tid,
                                           ir.Constant(I32, WHOLE_TEAM if claimed is None else claimed)])
        self._counter_taken = False
        self._phase_start = (self.b.block, call)
        self._claims, self._static = [], False

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
        self.claim_total = self.phase_claim()
        return self.function

    def phase_claim(self) -> int | None:
        """The items of the current phase's one loop taken from the counter (0 for a phase with
        no such loop), if the barrier that ends the phase may wait for them rather than for
        every thread: the phase has no other
        shared work (no static share), its code runs straight from its start (the last `sync`,
        or the kernel's entry) through the loop to the builder's position, every block ending in
        an unconditional branch (no branch could skip the loop, run it twice, or reach the
        barrier from elsewhere), and that code touches no memory but its own stack and its
        buffer table (`_shared_access`): a thread that skips the phase must miss nothing, and
        one that runs it late, while the team is phases ahead, must read nothing they rewrite."""
        if self._static or len(self._claims) > 1:
            return None
        total, opening, out = self._claims[0] if self._claims else (0, None, None)
        block, after = self._phase_start
        code = block.instructions[block.instructions.index(after) + 1:] if after is not None else block.instructions
        passed = False
        for _ in range(len(self.function.blocks) + 1):
            if any(_shared_access(instruction, self.table) for instruction in code):
                return None
            if block is self.b.block:
                return total if passed or opening is None else None
            terminator = block.terminator
            if not isinstance(terminator, ir.Branch):
                return None
            block = terminator.operands[0]
            if block is opening and not passed:
                block, passed = out, True
            code = block.instructions
        return None


PURE_INTRINSICS = re.compile(r"llvm\.(fma|fmuladd|sqrt|exp|exp2|log|log2|fabs|minnum|maxnum|smin|smax|umin|umax|"
                             r"floor|ceil|trunc|rint|round|copysign|vector\.reduce)\b")
"""Intrinsics that read or write no memory (the only calls allowed outside a claimable loop)."""


def _shared_access(instruction: ir.Instruction, table: ir.Argument) -> bool:
    """Whether `instruction` may write memory other than the kernel's own stack (allocas), or
    read memory other than that stack and the buffer table `table` (which no kernel writes).
    Conservative: a pointer counts as local only when GEPs lead it to an alloca (or, for a
    load, to `table`); a load through a pointer loaded from the table reads a shared buffer."""
    match instruction:
        case ir.StoreInstr() | ir.StoreAtomicInstr():
            return not isinstance(_pointer_root(instruction.operands[1]), ir.AllocaInstr)
        case ir.LoadInstr() | ir.LoadAtomicInstr():
            root = _pointer_root(instruction.operands[0])
            return not (isinstance(root, ir.AllocaInstr) or root is table)
        case ir.CallInstr():
            return not PURE_INTRINSICS.match(getattr(instruction.callee, "name", ""))
        case _:
            return isinstance(instruction, ir.AtomicRMW | ir.CmpXchg)


def _pointer_root(pointer: ir.Value) -> ir.Value:
    """The pointer `pointer` offsets by GEPs (itself if it is no GEP)."""
    while isinstance(pointer, ir.GEPInstr):
        pointer = pointer.pointer
    return pointer
