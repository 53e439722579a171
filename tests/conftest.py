"""Shared test configuration: hypothesis profiles and the `axolotl` marker's skip rule."""

from __future__ import annotations

import importlib.util
import os

import pytest
from hypothesis import HealthCheck, settings

# `ci`: fixed seed database-free runs, so CI is reproducible; `dev`: more examples.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

HAVE_AXOLOTL = importlib.util.find_spec("axolotl") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if HAVE_AXOLOTL or os.environ.get("FAST_AXOLOTL_REQUIRE_AXOLOTL"):
        return  # with REQUIRE set, a missing Axolotl fails the tests instead of skipping
    skip = pytest.mark.skip(reason="needs the real Axolotl (nox -s compat)")
    for item in items:
        if "axolotl" in item.keywords:
            item.add_marker(skip)
