"""A readable listing (disassembly) of instruction streams and micro-op buffers.

One line per instruction: index, mnemonic, operands, token flags, then the running occupancy of
the four token queues in stream order (as the VTA runtime's debug dump prints it).
"""

from __future__ import annotations

from typing import assert_never

from frittata.backends.vta.hw.isa import (
    Alu, Deps, Finish, Gemm, Instruction, Load, Queue, Stage, Store, Uop, stage_of)



def _flags(deps: Deps) -> str:
    names = [n for n in ("pop_prev", "pop_next", "push_prev", "push_next") if getattr(deps, n)]
    return "[" + ",".join(names) + "]"


def describe(insn: Instruction) -> str:
    """One instruction as mnemonic and operands, without its token flags."""
    match insn:
        case Load(x_size=0) | Store(x_size=0):
            return f"{'LOAD ' + insn.mem.name if isinstance(insn, Load) else 'STORE'} NOP"
        case Load():
            pads = (insn.y_pad0, insn.y_pad1, insn.x_pad0, insn.x_pad1)
            pad = f" pad=y({pads[0]},{pads[1]}) x({pads[2]},{pads[3]})" if any(pads) else ""
            return (f"LOAD {insn.mem.name} sram={insn.sram_base} dram={insn.dram_base}"
                    f" y={insn.y_size} x={insn.x_size} stride={insn.x_stride}{pad}")
        case Store():
            return (f"STORE OUT sram={insn.sram_base} dram={insn.dram_base}"
                    f" y={insn.y_size} x={insn.x_size} stride={insn.x_stride}")
        case Gemm():
            wgt = f" wgt=({insn.wgt_factor_out},{insn.wgt_factor_in})"
            return ("GEMM" + (" reset" if insn.reset else "") + _loops(insn) + wgt)
        case Alu():
            operand = f"imm={insn.imm}" if insn.use_imm else "tensor"
            return f"ALU {insn.op.name} {operand}" + _loops(insn)
        case Finish():
            return "FINISH"
        case _:
            assert_never(insn)


def _loops(insn: Gemm | Alu) -> str:
    return (f" uop=[{insn.uop_bgn},{insn.uop_end}) iter=({insn.iter_out},{insn.iter_in})"
            f" dst=({insn.dst_factor_out},{insn.dst_factor_in})"
            f" src=({insn.src_factor_out},{insn.src_factor_in})")


def _count(deps: Deps, stage: Stage, counts: dict[Queue, int]) -> None:
    """Update the running queue occupancy for one instruction executed by `stage`."""
    pops, pushes = deps.moves(stage)
    for queue in pops:
        if queue is not None:
            counts[queue] -= 1
    for queue in pushes:
        if queue is not None:
            counts[queue] += 1


def listing(insns: tuple[Instruction, ...]) -> str:
    """The whole stream, one instruction per line."""
    counts = dict.fromkeys(Queue, 0)
    lines = []
    for index, insn in enumerate(insns):
        _count(insn.deps, stage_of(insn), counts)
        queues = " ".join(f"{q.name.lower()}={counts[q]}" for q in Queue)
        lines.append(f"{index:04d}  {describe(insn):<62} {_flags(insn.deps):<18} {queues}")
    return "\n".join(lines) + "\n"


def uop_listing(uops: tuple[Uop, ...], start: int = 0) -> str:
    """Micro-ops one per line, numbered from `start`."""
    return "".join(f"u{start + i:04d}  dst={u.dst} src={u.src} wgt={u.wgt}\n"
                   for i, u in enumerate(uops))
