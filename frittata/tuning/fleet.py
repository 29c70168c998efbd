"""A measurement fleet on Ray: workers register by device key, the tuner farms jobs out to them.

As TVM's RPC tracker matches a tuning job to devices by key, Ray matches a task to nodes by a
custom resource. Each machine that measures joins the cluster offering its device's resource,
as many units as measurements it runs at once (one per machine keeps them from disturbing each
other):

    ray start --address=HEAD:6379 --resources="$(python -m frittata.tuning.fleet)"

and `RayRunner(address="HEAD:6379")` sends every job to a node of the tuner's device key, where
`measure.run_job` builds, checks and times it. Without an address the runner starts a local Ray
(local mode) offering `workers` units of this machine's device. A job that overruns `timeout`
is cancelled and one whose worker process dies is recorded as an error, as in `LocalRunner`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections.abc import Sequence

from frittata.errors import TuningError
from frittata.tuning.device import Device, host_device
from frittata.tuning.measure import Job, Result, run_job


def device_resource(device: Device) -> str:
    """The Ray resource naming `device` (a hash of its key: resource names stay plain)."""
    return "frittata-device-" + hashlib.sha256(device.key.encode()).hexdigest()[:12]


class RayRunner:
    """Measure on the Ray workers registered for this machine's device (see the module docstring)."""

    name = "ray"

    def __init__(self, address: str | None = None, threads: int | None = None, workers: int = 1,
                 timeout: float = 60.0) -> None:
        try:
            import ray
        except ImportError:
            raise TuningError("RayRunner: expected the ray package, got none installed "
                              "(pip install 'frittata[fleet]')") from None
        self.ray, self.timeout = ray, timeout
        self.device = host_device(threads)
        self.resource = device_resource(self.device)
        self._started = not ray.is_initialized()
        if self._started and address:
            ray.init(address=address, logging_level=logging.ERROR)
        elif self._started:
            ray.init(num_cpus=max(1, workers), resources={self.resource: float(workers)}, include_dashboard=False,
                     logging_level=logging.ERROR)
        capacity = ray.cluster_resources().get(self.resource, 0)
        if capacity < 1:
            raise TuningError(f"RayRunner: expected workers registered for device {self.device.key} "
                              f"(resource {self.resource}), got none in the cluster")
        self._measure = ray.remote(num_cpus=0, resources={self.resource: 1}, max_retries=0)(run_job)

    def run(self, jobs: Sequence[Job]) -> list[Result]:
        refs = [self._measure.remote(job) for job in jobs]
        deadline = time.perf_counter() + self.timeout * max(1, len(jobs))
        results = []
        for ref in refs:
            ready, _ = self.ray.wait([ref], timeout=max(0.0, min(self.timeout, deadline - time.perf_counter())))
            if not ready:
                self.ray.cancel(ref, force=True)
                results.append(Result(None, f"timeout after {self.timeout:g} s"))
                continue
            try:
                results.append(self.ray.get(ref))
            except self.ray.exceptions.RayError as problem:
                results.append(Result(None, f"worker crashed: {type(problem).__name__}"))
        return results

    def close(self) -> None:
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()


if __name__ == "__main__":
    json.dump({device_resource(host_device(int(sys.argv[1]) if len(sys.argv) > 1 else None)): 1}, sys.stdout)
