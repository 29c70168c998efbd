"""Tuning: measure candidate kernels of a program, log them as records, learn to rank them.

    report = frittata.tune(program, trials=200, records="resnet18.jsonl")   # measure (resumable)
    module = frittata.compile(program, records="resnet18.jsonl")   # extraction prices by them

`tasks` finds the workloads and schedule spaces in the saturated e-graph, `measure` builds and
times one candidate, `runners` run measurements locally (`fleet`: on Ray), `model` is the learned
ranking, `tuner` the search, `in_network` the check of each task's best inside the compiled
network, `replay` the searches compared over many seeds on a recorded table, `plot` the tuning
curve.
"""

from frittata.extract.records import Record, Records, Workload
from frittata.tuning.device import Device, host_device
from frittata.tuning.runners import LocalRunner, RecordedRunner
from frittata.tuning.tasks import Task
from frittata.tuning.tuner import TuneReport, tune

__all__ = ["Device", "LocalRunner", "Record", "RecordedRunner", "Records", "Task", "TuneReport", "Workload",
           "host_device", "tune"]
