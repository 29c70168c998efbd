"""`compile`: the pipeline as a straight line of named stages, each reporting what it did.

    program ─saturate─► e-graph ─extract─► program ─fold─► program ─build─► Module

`saturate` runs the rule library (plus user rules) in bounded phases; `extract` picks the
cheapest equivalent program under the target's cost model; `fold` evaluates the parameter
arithmetic that folding rules introduced; `build` lowers the result for the target. Every stage
is bounded, so compile always finishes with a valid program: at worst the input program.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from frittata.backends.registry import get_target
from frittata.backends.target import CompiledModule, Target
from frittata.terms.program import Program


@dataclass
class CompileOptions:
    """Everything `compile` can be told. `rules` are extra rule files (paths) or rule text;
    `target` is a registered target's name or a `Target` value."""

    target: str | Target = "llvm"
    rules: Sequence[str] = ()
    disable: Sequence[str] = ()
    cost: Any = None
    limits: Any = None
    schedule: Any = None
    extractor: str = "auto"
    extract_seconds: float = 5.0
    threads: int | None = None
    optimize: bool = True


@dataclass
class StageLog:
    """The report of every stage, in order, with wall time; `progress` is told of each stage."""

    progress: Callable[[str], None] | None = None
    stages: dict[str, dict] = field(default_factory=dict)

    def run(self, name: str, fn: Callable[[], Any], summarize: Callable[[Any], dict]) -> Any:
        if self.progress:
            self.progress(name)
        start = time.perf_counter()
        result = fn()
        self.stages[name] = {**summarize(result), "seconds": round(time.perf_counter() - start, 4)}
        return result


def compile(program: Program, target: str | Target = "llvm", *,
            progress: Callable[[str], None] | None = None, **options: Any) -> CompiledModule:
    """Compile `program` for `target` ("llvm", "vta", a registered target's name, or a `Target`)
    into a runnable module.

    Options: rules (extra rule files or rule text), disable (rule or family names), cost (a cost
    model, or a function of `frittata.extract.NodeInfo`), limits (`frittata.rewrites.Limits`),
    schedule (phases), extractor ("auto" | "greedy" | "ilp"), extract_seconds, threads,
    optimize (False skips saturation and extraction). The module's `report` holds each stage's report
    and `program` the optimized program it was built from (not saved with the module).
    """
    opts = CompileOptions(target=target, **options)
    chosen = opts.target if isinstance(opts.target, Target) else get_target(opts.target)
    log = StageLog(progress)
    optimized = optimize(program, chosen, opts, log) if opts.optimize else program
    module = log.run("build", lambda: chosen.build(optimized, opts.threads),
                     lambda m: dict(m.report.get("backend", {})))
    module.report["stages"] = log.stages
    module.report["target"] = chosen.name
    module.report["program"] = {"input_ops": program.op_counts(), "output_ops": optimized.op_counts()}
    module.program = optimized
    return module


def optimize(program: Program, target: Target, opts: CompileOptions, log: StageLog) -> Program:
    """Saturate, extract and fold: the best equivalent program under the target's cost model
    (or the schedule and cost model `opts` gives instead of the target's)."""
    from frittata.extract import extract
    from frittata.rewrites import fold_params, saturate

    schedule = opts.schedule if opts.schedule is not None else target.schedule()
    data, saturation = log.run(
        "saturate",
        lambda: saturate(program, rules=list(opts.rules), disable=list(opts.disable),
                         schedule=schedule, limits=opts.limits, params=target.rule_params()),
        lambda r: _saturation_summary(r[1]))
    model = opts.cost if opts.cost is not None else target.cost_model()
    choice, _ = log.run("extract",
                        lambda: extract(data, model, method=opts.extractor, time_limit=opts.extract_seconds),
                        lambda r: _extraction_summary(r[1]))
    chosen = data.to_program(choice)
    return log.run("fold", lambda: fold_params(chosen), lambda p: {"params": len(p.params), "terms": len(p.terms())})


def _saturation_summary(report) -> dict:
    return {
        "phases": [{"name": p.name, "stop": p.stop_reason, "iterations": p.iterations, "nodes": p.nodes,
                    "seconds": round(p.seconds, 4)} for p in report.phases],
        "nodes": report.nodes,
        "fired": report.fired(),
    }


def _extraction_summary(report) -> dict:
    return {"method": report.method, "model": report.model, "cost": report.cost,
            "input_cost": report.original_cost, "greedy_cost": report.greedy_cost,
            "gap": report.gap, "optimal": report.optimal, "status": report.status,
            "e_nodes": report.n_nodes, "e_classes": report.n_classes}
