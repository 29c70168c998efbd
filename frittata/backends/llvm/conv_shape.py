"""The sizes of a 2-D convolution read off its term, shared by the convolution kernels."""

from __future__ import annotations

from dataclasses import dataclass

from frittata.terms.term import Term


@dataclass(frozen=True)
class ConvShape:
    """Input [n, c, h, w], weights [o, c / groups, kh, kw], output [n, o, oh, ow]; c and o count
    every group's channels."""

    n: int
    c: int
    h: int
    w: int
    o: int
    kh: int
    kw: int
    oh: int
    ow: int
    strides: tuple[int, int]
    pads: tuple[int, int, int, int]
    """top, left, bottom, right"""
    dilations: tuple[int, int]
    groups: int

    @staticmethod
    def fields(term: Term) -> dict:
        """The constructor arguments for the convolution `term` (a conv2d, fused or tiled)."""
        (n, c, h, w), (o, _, kh, kw) = term.args[0].shape, term.args[1].shape
        return dict(n=n, c=c, h=h, w=w, o=o, kh=kh, kw=kw, oh=term.shape[2], ow=term.shape[3],
                    strides=term.attr("strides"), pads=term.attr("pads"), dilations=term.attr("dilations"),
                    groups=term.attr("groups"))
