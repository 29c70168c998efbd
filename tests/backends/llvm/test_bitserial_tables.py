"""The bit-serial table kernel compiled for AVX2 (one- or two-bit activations, one-bit weights:
sums looked up in activation-indexed tables): equal to the interpreter on random shapes, at the
largest sums a window can make, requantizing by threshold compares, walking its rows in
reduction chunks whose weights stay in L1 (unchunked where a row's partial sums would pass their
bound), unrolling short kernel rows, and flushing a tap of four words once where no pixel's
words are all ones or no channel's weight words are."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import frittata.terms as T
from frittata.backends.llvm.bitserial_chunks import PARTIALS_BYTES
from frittata.backends.llvm.bitserial_tables import FIELD_CAPACITY, MAX_RUN, TableEmitter, field_runs
from frittata.backends.llvm.plan import Plan
from frittata.terms.bitserial_schedules import uses_tables
from tests.backends.llvm.helpers import assert_compiled_equal, packed_weights, targets
from tests.conftest import compiling

AVX2 = targets()["avx2"]


def tables(t: T.Term) -> bool:
    """Whether the AVX2 target runs `t` on the table kernel."""
    return uses_tables(t.op, t.attrs, t.args[0].type, t.args[1].type, t.args[1].op == T.Op.PARAM, 8)


@st.composite
def table_cases(draw):
    """One- or two-bit activations and one-bit weights with the default schedule on AVX2: the
    activation-indexed table kernel (channels past the last block of 32, one or more tiles of
    64 channels, padding, strides, a bias and requantization or none; the requantizations to
    0..1 and 0..3 by threshold compares where rows of 8+ outputs are staged, one to -3..200 step
    by step). Half the widths are 17-20, so that some rows are staged."""
    c, o = draw(st.integers(1, 200)), draw(st.integers(1, 160))
    k, stride, pad = draw(st.sampled_from([1, 3])), draw(st.integers(1, 2)), draw(st.integers(0, 1))
    h, w = draw(st.integers(k, 10)), draw(st.integers(k, 10) | st.integers(17, 20))
    steps = draw(st.sampled_from([(), (("shift", 3), ("clip", 0, 3), ("cast", "int8")),
                                  (("shift", 5), ("clip", 0, 1), ("cast", "uint8")),
                                  (("relu",), ("shift", 2), ("clip", -3, 200), ("cast", "int8"))]))
    encoding = draw(st.sampled_from(["unipolar", "bipolar"]))
    return (draw(st.integers(1, 2)), c, h, w), (o, c, k, k), stride, pad, encoding, steps, draw(st.integers(1, 2))


@compiling
@given(table_cases(), st.integers(0, 2**32 - 1), st.booleans())
@example(((1, 70, 5, 6), (40, 70, 3, 3), 1, 1, "bipolar", (), 2), 0, False)  # a tile counts its window's bits
@example(((1, 64, 4, 5), (150, 64, 1, 1), 1, 0, "bipolar", (), 2), 0, False)  # a group of tiles shares them
@example(((1, 200, 7, 9), (33, 200, 3, 3), 1, 1, "bipolar", (), 1), 0, False)  # pixel pairs and lone pixels
@example(((1, 64, 4, 5), (150, 64, 1, 1), 1, 0, "bipolar", (), 1), 0, False)  # pairs in a group of three tiles
# All ones, bipolar (the counters and 16-bit sums are the encoding's raw sums; bipolar adds the
# window popcounts): the largest window sums `uses_tables` admits, 16-bit sums of 9 * 113 * 64 =
# 65088 (one plane, a pixel pair: 4-bit fields at FIELD_LOOKUPS lookups of 4) and 9 * 37 * 64 * 3
# = 63936 (two planes, flushed every word); then 4 words a tap in chunks of a kernel row, so that
# byte counters take `byte_room` (3) words before a flush, pixel pairs and a lone pixel beside
# the padding.
@example(((1, 64 * 113, 3, 4), (3, 64 * 113, 3, 3), 1, 0, "bipolar", (), 1), 0, True)
@example(((1, 64 * 37, 3, 4), (3, 64 * 37, 3, 3), 1, 0, "bipolar", (), 2), 0, True)
@example(((1, 256, 3, 5), (3, 256, 3, 3), 1, 1, "bipolar", (), 1), 0, True)
def test_low_bit_activations_run_the_table_kernel_exactly(case, seed, ones):
    """Random bits, or (`ones`) every activation 2^a - 1 and every weight code 1: the largest
    sums a window of the case's shape can make."""
    run_table_case(case, seed, ones)


def run_table_case(case, seed: int, ones: bool, bias_offset: int = 0) -> list[bool]:
    """Compile `case` (`table_cases`) on AVX2 and compare it with the interpreter; a bias of
    bias_offset + [-40, 40) with steps. Returns, per table kernel emitted, whether it
    requantized by threshold compares."""
    xs, ws, stride, pad, encoding, steps, a_bits = case
    rng = np.random.default_rng(seed)
    if ones:
        x, codes = np.full(xs, (1 << a_bits) - 1, np.int8), np.ones(ws, np.int8)
    else:
        x, codes = rng.integers(0, 1 << a_bits, xs).astype(np.int8), rng.integers(0, 2, ws).astype(np.int8)
    values = rng.integers(-40, 40, ws[0]) + bias_offset
    bias = T.param("b", values.astype(np.int32)) if steps else None
    conv = T.bitserial_conv2d(T.bitpack(T.var("x", xs, "int8"), a_bits, 1), packed_weights(codes, 1, "int64"),
                              stride, pad, encoding=encoding, bias=bias, epilogue=steps)
    assert tables(conv)
    with threshold_compares() as taken:
        assert_compiled_equal(T.Program({"y": conv}), {"x": x}, AVX2)
    for compares, plan in taken:  # the compares fold the bias in: no padded bias beside them
        assert compares == any(name.endswith(".thresholds") for name in plan.params)
        assert not (compares and any(name.endswith(".bias") for name in plan.params))
    return [compares for compares, _ in taken]


@contextmanager
def threshold_compares() -> Iterator[list[tuple[bool, Plan]]]:
    """Whether each table kernel emitted inside the block requantizes by threshold compares, and
    the plan it adds its parameters to."""
    taken: list[tuple[bool, Plan]] = []
    use = TableEmitter.use_thresholds

    def spy(self, plan, *args):
        use(self, plan, *args)
        taken.append((self.thresholds is not None, plan))

    with mock.patch.object(TableEmitter, "use_thresholds", spy):
        yield taken


# Epilogues the table kernel runs as threshold compares (8-bit, staged: rows of 8+ outputs):
SHIFT_3_TO_0_3 = (("shift", 3), ("clip", 0, 3), ("cast", "int8"))
THRESHOLD_CASES = [
    ((1, 70, 5, 9), (40, 70, 3, 3), 1, 1, "bipolar", SHIFT_3_TO_0_3, 2),  # one tile, two planes
    ((2, 70, 5, 9), (150, 70, 3, 3), 1, 1, "unipolar", (("shift", 5), ("clip", 0, 1), ("cast", "uint8")), 1),
    ((1, 64, 4, 9), (150, 64, 1, 1), 1, 0, "bipolar", (("shift", 2), ("clip", 0, 3), ("cast", "uint8")), 1),
    ((1, 200, 3, 9), (100, 200, 3, 3), 1, 1, "bipolar", (("shift", 1), ("clip", 0, 3), ("cast", "int8")), 1),  # ties
]


@pytest.mark.parametrize("case", THRESHOLD_CASES)
def test_the_table_kernel_requantizes_by_threshold_compares_exactly(case):
    """Sums at and around each channel's thresholds (a half-way shift of 1: ties), channels 16-31
    of a block, bipolar sums below zero, groups of tiles, a batch: the compares' path taken."""
    assert run_table_case(case, 0, False) == [True]


# Tiles whose weights pass half of L1 walk each row once per reduction chunk (`ReductionChunks`):
CHUNKED_CASES = [
    # one plane, 8 words a tap: 6 chunks of a kernel row's taps' first or last 4 words; pixel
    # pairs and a lone pixel, staged rows of threshold compares
    (((1, 512, 4, 19), (40, 512, 3, 3), 1, 1, "bipolar", (("shift", 5), ("clip", 0, 1), ("cast", "uint8")), 1), 6),
    # two planes, 4 words a tap: 3 chunks of one kernel row, int32 sums, a batch, stride 2
    (((2, 256, 7, 6), (40, 256, 3, 3), 2, 1, "bipolar", (), 2), 3),
    (((1, 256, 4, 6), (40, 256, 3, 3), 1, 1, "unipolar", (), 2), 3),
    # one plane, a 66x1 window of one word a tap: counters flushed every 22 kernel rows, 3 chunks
    # of 22 rows, each flushed at its end
    (((1, 64, 70, 5), (3, 64, 66, 1), 1, 0, "bipolar", (), 1), 3)]


@pytest.mark.parametrize("case, chunks", CHUNKED_CASES)
def test_the_table_kernel_walks_its_rows_in_reduction_chunks_exactly(case, chunks):
    """Chunks of kernel rows or of a tap's words, one or two planes, flushes every word or every
    F kernel rows (at each chunk's end too), staged threshold compares: equal to the interpreter
    in the number of chunks expected."""
    counts = []
    rows = TableEmitter.rows

    def spy(self):
        counts.append(self.chunk_count)
        rows(self)

    with mock.patch.object(TableEmitter, "rows", spy):
        run_table_case(case, 0, False)
    assert counts == [chunks]


# A 3x3 kernel row of 2 words a tap (UNROLLED_ROW) runs unrolled, flushed every `room` words
# across its taps: 6 steps (one plane: runs of 3 words, at all ones the largest counts a byte
# takes; two planes: a flush a word), in chunks of a kernel row; 3 words a tap, and 1x1 and 3x1
# rows of 4 or 5 words, run the word loop.
@pytest.mark.parametrize("case, ones, unrolled, chunks", [
    (((1, 128, 5, 7), (40, 128, 3, 3), 1, 1, "bipolar", (), 1), True, True, 3),
    (((1, 65, 5, 7), (40, 65, 3, 3), 1, 1, "bipolar", (), 2), False, True, 3),
    (((1, 192, 5, 7), (40, 192, 3, 3), 1, 1, "bipolar", (), 1), True, False, 3),
    (((1, 200, 4, 5), (40, 200, 1, 1), 1, 0, "bipolar", (), 1), True, False, 1)])
def test_a_short_kernel_row_runs_unrolled_exactly(case, ones, unrolled, chunks):
    seen = []
    rows = TableEmitter.rows

    def spy(self):
        seen.append((self.unrolls_row, self.chunk_count))
        rows(self)

    with mock.patch.object(TableEmitter, "rows", spy):
        run_table_case(case, 1, ones)
    assert seen == [(unrolled, chunks)]


# `row_steps` on rows whose steps are no multiple of the room (3 words, one plane), unrolled
# here though the kernel runs them as word loops: after the last full run of 3 words, the flush
# after the row's last step is the only one (4 steps: 1 word; 5 steps: 2 words).
@pytest.mark.parametrize("case, ones", [
    (((1, 200, 4, 5), (40, 200, 1, 1), 1, 0, "bipolar", (), 1), True),
    (((1, 320, 4, 5), (40, 320, 1, 1), 1, 0, "unipolar", (), 1), False),
    (((1, 256, 6, 5), (8, 256, 3, 1), 1, 0, "bipolar", (), 1), True)])
def test_an_unrolled_row_flushes_after_its_last_step(case, ones):
    seen = []
    rows = TableEmitter.rows

    def spy(self):
        seen.append(self.unrolls_row)
        rows(self)

    with mock.patch.object(TableEmitter, "unrolled_row", property(lambda self: (self.g.kw, self.chunk_words))), \
            mock.patch.object(TableEmitter, "rows", spy):
        run_table_case(case, 3, ones)
    assert seen == [True]


@pytest.mark.parametrize("all_ones", [False, True])
def test_a_tap_of_four_words_flushes_once_unless_a_pixel_is_all_ones(all_ones):
    """One plane, 4 words a tap (the room, 3 words, and one): weights all ones, activations all
    ones but for channel 0 of every other column, where a tap counts 255, the most a byte
    counter takes, with one flush a tap; beside them (and everywhere with `all_ones`) 256, so
    those pixels flush after a tap's third word too. Pixel pairs, a lone pixel and padding."""
    xs, ws = (1, 256, 4, 5), (40, 256, 3, 3)
    x = np.ones(xs, np.int8)
    if not all_ones:
        x[0, 0, :, ::2] = 0
    conv = T.bitserial_conv2d(T.bitpack(T.var("x", xs, "int8"), 1, 1), packed_weights(np.ones(ws, np.int8), 1, "int64"),
                              1, 1)
    seen = []
    rows = TableEmitter.rows

    def spy(self):
        seen.append((self.plan, self.chunk_words, self.stretches_room))
        rows(self)

    with mock.patch.object(TableEmitter, "rows", spy):
        assert_compiled_equal(T.Program({"y": conv}), {"x": x}, AVX2)
    assert seen == [(("words", 3), 4, True)]


def test_the_all_ones_test_reads_the_words_of_its_reduction_chunk():
    """512 channels walk reduction chunks of 4 words a tap: channel 0 is 0 everywhere, so no
    pixel's words of the first chunk are all ones, and every pixel's of the second are (256
    a tap: those flush after the third word too). Testing the first chunk's words for both
    overflows the second's counters."""
    xs, ws = (1, 512, 4, 5), (40, 512, 3, 3)
    x = np.ones(xs, np.int8)
    x[0, 0] = 0
    conv = T.bitserial_conv2d(T.bitpack(T.var("x", xs, "int8"), 1, 1), packed_weights(np.ones(ws, np.int8), 1, "int64"),
                              1, 1)
    seen = []
    rows = TableEmitter.rows

    def spy(self):
        seen.append((self.plan, self.chunk_words, self.chunk_count > 1, self.stretches_room))
        rows(self)

    with mock.patch.object(TableEmitter, "rows", spy):
        assert_compiled_equal(T.Program({"y": conv}), {"x": x}, AVX2)
    assert seen == [(("words", 3), 4, True, True)]


def fill_tap_kernels(codes: np.ndarray, encoding: str = "unipolar") -> tuple[list[tuple], bool]:
    """Compile a 3x3 A1W1 convolution of weight `codes` [O, C, 3, 3] (padding 1) over
    activations all ones on AVX2 and compare it with the interpreter bit for bit. Returns what
    each table kernel emitted saw (plan, chunk_words, stretches_room, weights_fill_tap) and
    whether any pixel was tested for all ones."""
    xs = (1, codes.shape[1], 4, 5)
    conv = T.bitserial_conv2d(T.bitpack(T.var("x", xs, "int8"), 1, 1), packed_weights(codes, 1, "int64"), 1, 1,
                              encoding=encoding)
    seen, tested = [], []
    rows, all_ones = TableEmitter.rows, TableEmitter.all_ones

    def spy(self):
        seen.append((self.plan, self.chunk_words, self.stretches_room, self.weights_fill_tap))
        rows(self)

    def test_spy(self, *args):
        tested.append(True)
        return all_ones(self, *args)

    with mock.patch.object(TableEmitter, "rows", spy), mock.patch.object(TableEmitter, "all_ones", test_spy):
        assert_compiled_equal(T.Program({"y": conv}), {"x": np.ones(xs, np.int8)}, AVX2)
    return seen, bool(tested)


@pytest.mark.parametrize("channels, fills", [(256, False), (512, True)])
def test_pixels_are_tested_only_where_some_weights_fill_a_tap(channels, fills):
    """Activations all ones, weights all ones but input channel 0: a chunk of 4 words a tap
    holding channel 0 counts 255, the most a byte counter takes, so with 256 channels (one
    chunk) no weights fill a tap and no pixel is tested, one flush a tap; with 512 (two chunks
    of 4 words) the second chunk counts 256 and its pixels are tested (a whole tap's 8 words
    hold the zero: testing them instead of the chunk's overflows the second chunk's counters)."""
    codes = np.ones((40, channels, 3, 3), np.int8)
    codes[:, 0] = 0
    assert fill_tap_kernels(codes) == ([(("words", 3), 4, True, fills)], fills)


def test_one_chunk_of_one_channel_at_one_tap_fills_a_tap():
    """512 channels, input channels 3 and 259 zero in every weight (no chunk of 4 words full)
    except the first chunk of output channel 37 at tap (2, 1), all ones: that chunk alone counts
    256, in the first chunk, not the last, outside the first block of 32 output channels and
    away from tap (0, 0). Looking only at any of those overflows its counters."""
    codes = np.ones((40, 512, 3, 3), np.int8)
    codes[:, [3, 259]] = 0
    codes[37, :256, 2, 1] = 1
    assert fill_tap_kernels(codes, "bipolar") == ([(("words", 3), 4, True, True)], True)


def test_a_tap_is_filled_by_its_aligned_chunk_of_4_words():
    """768 channels, 12 words a tap: a zero bit in words 1, 3, 8 and 10 of every weight, so
    words 4-7 (the second chunk, not the last) are the only full aligned group of 4 and no
    aligned group of 3 (the counters' room) is full. Groups of 3 overflow the second chunk's
    counters."""
    codes = np.ones((40, 768, 3, 3), np.int8)
    codes[:, [64 * 1 + 5, 64 * 3 + 9, 64 * 8 + 1, 64 * 10 + 63]] = 0
    assert fill_tap_kernels(codes) == ([(("words", 3), 4, True, True)], True)


def test_field_runs_are_the_fewest_whose_weight_bits_fit_a_field():
    """Runs of up to MAX_RUN nibbles, each holding at most FIELD_CAPACITY ones of every weight
    word: all-ones weights take runs of FIELD_LOOKUPS (6 runs), zeros runs of 5, random words
    runs of 4 unless some word's 16 bits there are all ones."""
    def valid(runs, words) -> bool:
        unsigned = words.view(np.uint64)
        bits = [int(np.bitwise_count((unsigned >> np.uint64(4 * a)) & np.uint64((1 << 4 * (b - a)) - 1)).max())
                for a, b in runs]
        return [r for run in runs for r in range(*run)] == list(range(16)) and max(bits) <= FIELD_CAPACITY
    ones, zeros = np.full((2, 3, 3, 1, 2), -1, np.int64), np.zeros((2, 3, 3, 1, 2), np.int64)
    assert len(field_runs(ones)) == 6 and valid(field_runs(ones), ones)
    assert len(field_runs(zeros)) == 4 and max(b - a for a, b in field_runs(zeros)) == MAX_RUN
    words = np.full((2, 1, 1, 1, 1), ~np.int64(1 << 16 | 1 << 32 | 1 << 48) & ~np.int64(1), np.int64)
    assert field_runs(words) == ((0, 4), (4, 8), (8, 12), (12, 16))
    words[1, 0, 0, 0, 0] |= np.int64(0xFFFF << 16)
    assert len(field_runs(words)) == 5 and valid(field_runs(words), words)


@pytest.mark.parametrize("full_chunk", [False, True])
def test_a_run_of_four_lookups_fills_a_field_to_fifteen_exactly(full_chunk):
    """Activations all ones, weights all ones but one bit of every 16 (input channels 0, 16,
    32, 48): runs of 4 lookups each count 15 in a field, its most; with `full_chunk` one output
    channel's channels 16-31 are all ones, so no run may cover those 4 nibbles (a run of 4
    there counts 16 and carries into the next field)."""
    xs, ws = (1, 64, 3, 6), (40, 64, 3, 3)
    codes = np.ones(ws, np.int8)
    codes[:, ::16] = 0
    if full_chunk:
        codes[7, 16] = 1
    conv = T.bitserial_conv2d(T.bitpack(T.var("x", xs, "int8"), 1, 1), packed_weights(codes, 1, "int64"), 1, 1)
    seen = []
    rows = TableEmitter.rows

    def spy(self):
        seen.append(self.runs)
        rows(self)

    with mock.patch.object(TableEmitter, "rows", spy):
        assert_compiled_equal(T.Program({"y": conv}), {"x": np.ones(xs, np.int8)}, AVX2)
    assert len(seen[0]) == (5 if full_chunk else 4) and ((4, 8) in seen[0]) == (not full_chunk)


@pytest.mark.parametrize("width, chunks", [(PARTIALS_BYTES // 72, 3), (PARTIALS_BYTES // 72 + 1, 1)])
def test_a_row_whose_partial_sums_pass_their_bound_is_walked_unchunked(width, chunks):
    """One output row of 72 bytes of partial sums a pixel (one block of two 16-bit vectors and
    the window popcount): a row just within PARTIALS_BYTES still walks 3 chunks, one column more
    walks its row unchunked (no stack array of partial sums, which grew with the row)."""
    sizes = []
    rows = TableEmitter.rows

    def spy(self):
        sizes.append((self.chunk_count, self.pixel_partial_bytes))
        rows(self)

    with mock.patch.object(TableEmitter, "rows", spy):
        run_table_case(((1, 256, 1, width), (8, 256, 3, 3), 1, 1, "bipolar", (), 2), 0, False)
    assert sizes == [(chunks, 72)]


@pytest.mark.parametrize("steps, bias_offset", [
    ((("relu",), ("clip", None, 0), ("cast", "int8")), 0),  # no level above 0: no compares
    (SHIFT_3_TO_0_3, 10_000),  # every output at the top level
    (SHIFT_3_TO_0_3, -10_000)])  # every output 0
def test_the_table_kernel_thresholds_at_the_ends_of_the_levels(steps, bias_offset):
    case = ((1, 70, 3, 9), (40, 70, 3, 3), 1, 1, "bipolar", steps, 1)
    assert run_table_case(case, 0, False, bias_offset) == [True]


def test_the_table_kernel_takes_one_or_two_bit_activations_within_its_16_bit_sums():
    def conv(a_bits: int, channels: int, k: int, schedule=()) -> T.Term:
        x = T.bitpack(T.var("x", (1, channels, 9, 9), "int8"), a_bits, 1)
        weights = packed_weights(np.zeros((4, channels, k, k), np.int8), 1, "int64")
        return T.bitserial_conv2d(x, weights, 1, k // 2, schedule=schedule)

    assert tables(conv(2, 512, 3)) and tables(conv(2, 64 * 37, 3))  # 9 * 37 * 64 * 3 = 63936 <= 65535
    assert tables(conv(1, 512, 3)) and tables(conv(1, 64 * 113, 3))  # 9 * 113 * 64 = 65088
    assert not tables(conv(2, 64 * 38, 3)) and not tables(conv(1, 64 * 114, 3)) and not tables(conv(3, 512, 3))
    assert not tables(conv(2, 512, 3, (("pixels", 1), ("blocks", 4))))
