"""Test configuration: hypothesis profiles (CI runs fewer examples, same assertions)."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
settings.register_profile("ci", parent=settings.get_profile("dev"), max_examples=20, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
