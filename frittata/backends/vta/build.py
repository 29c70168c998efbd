"""`build(program, config) -> VtaModule`: accelerator ops on the simulator, the rest natively.

Every `vta_dense` / `vta_conv2d` of the extracted program is an accelerator call: its stream is
emitted once at build time into a simulator's DRAM (constant operands placed there for good),
and each run copies in the activations, simulates, and reads the result.  The host parts are
cut into native programs (llvm backend): for call i, a program computing its non-constant
operands from the inputs and the results of earlier calls (given as inputs named `vta{j}`), and
one last program computing the outputs.  `vta_pack` / `vta_unpack` on the host become the
reshape and transpose they stand for.  The split is in `module.report["split"]`.
"""

from __future__ import annotations

import numpy as np

from frittata.backends.runtime import Module
from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.lower import Lowered, emit_vta_term
from frittata.backends.vta.module import VtaModule
from frittata.backends.vta.hw.simulator import Simulator
from frittata.errors import LoweringError
from frittata.terms import builders as tb
from frittata.terms.interp import evaluate
from frittata.terms.onnx_export_kernels import expand_kernel
from frittata.terms.ops import VTA, Op
from frittata.terms.program import Program
from frittata.terms.term import Term, postorder

CALLS = (Op.VTA_DENSE, Op.VTA_CONV2D)


def host_terms(roots: list[Term], results: dict[int, Term]) -> list[Term]:
    """`roots` with accelerator results replaced by vars and VTA layout ops expanded."""
    memo: dict[int, Term] = dict(results)
    for node in postorder(roots):
        if id(node) in memo:
            continue
        if node.op in CALLS:
            raise LoweringError(f"vta build: {node.op.value} depends on a later call; expected "
                                "calls in dependency order")
        args = tuple(memo[id(a)] for a in node.args)
        rebuilt = Term.make(node.op, args, node.attrs)
        memo[id(node)] = expand_kernel(rebuilt) if node.op in VTA else rebuilt
    return [memo[id(r)] for r in roots]


class HostPart:
    """A native program over program inputs and earlier call results; constant parts are
    evaluated once at build time."""

    def __init__(self, outputs: dict[str, Term], threads: int | None) -> None:
        self.program = Program(outputs)
        self.constant = not self.program.inputs
        self.value: dict[str, np.ndarray] = evaluate(self.program) if self.constant else {}
        self.passthrough = all(t.op == Op.INPUT for t in outputs.values())
        self.module: Module | None = None
        if not (self.constant or self.passthrough):
            from frittata.backends.llvm import build as build_llvm

            built = build_llvm(self.program, threads=threads)
            assert isinstance(built, Module), "a host part is built for this host"
            self.module = built

    def run(self, env: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.constant:
            return self.value
        if self.passthrough:
            return {n: env[t.attr("name")] for n, t in self.program.outputs.items()}
        assert self.module is not None
        return self.module.run(**{n: env[n] for n in self.program.inputs})


class _Builder:
    """Emits every accelerator call of a program into one simulator's DRAM, in dependency
    order, and cuts the host parts around them."""

    def __init__(self, program: Program, cfg: VtaConfig, threads: int | None) -> None:
        self.cfg, self.threads = cfg, threads
        self.sim = Simulator(cfg, Dram())
        self.calls: list[tuple[list[HostPart], Lowered]] = []
        results: dict[int, Term] = {}
        self.nodes = [t for t in postorder(program.outputs.values()) if t.op in CALLS]
        for i, node in enumerate(self.nodes):
            self.calls.append(self._call(node, results))
            results[id(node)] = tb.var(f"vta{i}", node.shape, node.dtype)
        roots = list(program.outputs.values())
        self.final = HostPart(dict(zip(program.outputs, host_terms(roots, results))), threads)

    def _call(self, node: Term, results: dict[int, Term]):
        parts = [HostPart({"v": t}, self.threads) for t in host_terms(list(node.args), results)]
        if not parts[2].constant:
            raise LoweringError(f"vta build: {node.op.value} bias: expected a constant (parameters "
                                "only), got a computed tensor")
        values = [p.value["v"] if p.constant else np.zeros(a.shape, a.dtype)
                  for p, a in zip(parts, node.args)]
        return parts, emit_vta_term(node, values, self.cfg, self.sim.machine.dram)


def _split(program: Program) -> dict:
    ops = [t.op.value for t in program.terms() if t.op not in (Op.INPUT, Op.PARAM, Op.CONST)]
    vta = [t.op.value for t in program.terms() if t.op in CALLS]
    return {"vta": vta, "cpu": [op for op in ops if op not in ("vta_dense", "vta_conv2d")]}


def build(program: Program, config: VtaConfig = VtaConfig(), threads: int | None = None) -> VtaModule:
    """A module running `program`'s VTA calls on the simulator and the rest natively; each call
    records its op and the VTA cost model's seconds for a profile. The cost model (and the
    extractor's modules it needs) is imported here: the package is imported when a saved
    module is loaded, which must not need the compiler stages."""
    from frittata.backends.vta.cost import VtaCostModel
    from frittata.extract.cost import term_infos

    built = _Builder(program, config, threads)
    outputs = {n: t.type for n, t in program.outputs.items()}
    report = {"backend": {"target": f"vta {config.name} (simulated) + llvm host", "split": _split(program)}}
    model = VtaCostModel(cfg=config)
    infos = {id(t): info for t, info in term_infos(program)}
    index = {id(t): i for i, t in enumerate(program.terms())}
    facts = [{"op": t.op.value, "model_s": model.node_cost(infos[id(t)]), "term": index[id(t)]} for t in built.nodes]
    return VtaModule(config, program.inputs, outputs, built.sim, built.calls, built.final, report, facts)
