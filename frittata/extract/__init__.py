"""Extraction: cost models, and greedy and DAG-optimal (ILP) choice of a program.

The driver calls, after saturation (each target names its cost model, `Target.cost_model`):

    model = cost if cost is not None else target.cost_model()
    choice, report = extract(egraph_data, model, method="auto", time_limit=5.0)
    program = egraph_data.to_program(choice)

and `show.program_dot(program)` / `show.write_svg(dot, path)` draw what was chosen.
"""

from frittata.extract.cost import CostModel, FunctionCostModel, NodeInfo, as_cost_model, program_cost
from frittata.extract.cpu_model import CpuModel
from frittata.extract.extraction import ILP_MAX_NODES, ExtractionReport, choice_cost, extract

__all__ = [
    "CostModel", "CpuModel", "ExtractionReport", "FunctionCostModel", "ILP_MAX_NODES", "NodeInfo",
    "as_cost_model", "choice_cost", "extract", "program_cost",
]
