"""The int16-pair form of the int8 convolution kernel (`int8conv`): two channels in each int32
lane, one vpmaddwd (vpdpwssd with VNNI) a multiply-add of 2; the channel groups of the packed
input (`pairs`, `planes`), the odd last channel's taps paired with each other (`split_last`,
`row_items`, `column_items`), and the weights packed to match at compile time (`pack_weights`).
The quads' form is `int8quads`'s."""

from __future__ import annotations

import numpy as np

from frittata.backends.llvm.conv import Geometry


def pairs(g: Geometry, width: int = 2) -> int:
    """Channel groups of xq, `width` channels each (2: pairs, `int8quads.QUAD`: quads): every
    channel's, or (`split_last`) the even channels' only."""
    return g.c // 2 if split_last(g, width) else -(-g.c // width)


def split_last(g: Geometry, width: int = 2) -> bool:
    """Whether an odd last channel's taps pair with each other (`row_items`) rather than with a
    zero channel: int16 pairs, with stride 1 (one phase plane) and kernel rows of more than one
    tap. A 3x3 convolution of 3 channels then takes 9 + 6 pair products per pixel, not 2 x 9."""
    return width == 2 and g.c % 2 == 1 and g.strides == (1, 1) and g.kw > 1


def pairs_down(kh: int, kw: int) -> bool:
    """Whether the last channel's odd last column pairs its taps down the kernel rows (tap r
    with tap r + 1, from a plane of row pairs: `column_items`) rather than each with zero: an
    odd number of columns and more than one row. A 3x3 kernel then takes 6 + 2 pair products
    for the last channel, not 9; one pair fewer a row pair."""
    return kw % 2 == 1 and kh > 1


def row_items(kh: int, kw: int) -> range:
    """The columns s of the last channel's items in each kernel row (`split_last`): tap s with
    tap s + 1 from its column-pair plane; an odd last column's item (without `pairs_down`)
    reads the same plane, its weight's high half zero (the next column's value counts for
    nothing)."""
    return range(0, kw - 1 if pairs_down(kh, kw) else kw, 2)


def column_items(kh: int, kw: int) -> range:
    """The kernel rows r of the last channel's items in its last column (`pairs_down`): tap r
    with tap r + 1 from its row-pair plane; an odd last row's item reads the same plane, its
    weight's high half zero."""
    return range(0, kh, 2) if pairs_down(kh, kw) else range(0)


def planes(g: Geometry, width: int = 2) -> int:
    """Planes of xq: the channel groups, and with `split_last` the last channel's column pairs,
    then with `pairs_down` its row pairs."""
    return pairs(g, width) + (1 + pairs_down(g.kh, g.kw) if split_last(g, width) else 0)


def reduction_pairs(g: Geometry, width: int = 2) -> int:
    """Weight words per output channel: a tap of each channel group, then with `split_last` the
    last channel's `row_items` of each kernel row and its `column_items`."""
    items = g.kh * len(row_items(g.kh, g.kw)) + len(column_items(g.kh, g.kw))
    return pairs(g, width) * g.kh * g.kw + (items if split_last(g, width) else 0)


def pack_weights(w: np.ndarray, mr: int, pairs: int) -> np.ndarray:
    """[O, C, KH, KW] int8 -> [ceil(O/mr), reduction pairs, mr] int32 pairs (zero-padded): the
    taps of `pairs` channel pairs (pairs x KH*KW, pair index major; past C a zero channel), then,
    when a last channel is left over (`split_last`), its `row_items`, row by row, and its
    `column_items`."""
    o, c, kh, kw = w.shape
    blocks = -(-o // mr)
    wide = np.zeros((blocks * mr, 2 * pairs, kh * kw), np.int16)
    wide[:o, :min(c, 2 * pairs)] = w[:, :2 * pairs].reshape(o, -1, kh * kw)
    low, high = wide[:, 0::2].reshape(blocks * mr, -1), wide[:, 1::2].reshape(blocks * mr, -1)
    if c > 2 * pairs:
        last = np.zeros((blocks * mr, kh + 1, kw + 1), np.int16)
        last[:o, :kh, :kw] = w[:, c - 1]
        items = [(r, column) for r in range(kh) for column in row_items(kh, kw)]
        down = [(r, kw - 1) for r in column_items(kh, kw)]
        low = np.concatenate([low, np.stack([last[:, r, s] for r, s in items + down], 1)], 1)
        partner = [last[:, r, s + 1] for r, s in items] + [last[:, r + 1, s] for r, s in down]  # row kh, column kw: 0
        high = np.concatenate([high, np.stack(partner, 1)], 1)
    packed = low.view(np.uint16).astype(np.uint32) | (high.view(np.uint16).astype(np.uint32) << 16)
    return np.ascontiguousarray(packed.reshape(blocks, mr, -1).transpose(0, 2, 1)).view(np.int32)
