"""Shared fixtures: one in-process moto endpoint per test module (starting moto's mock is slow)."""

from __future__ import annotations

import itertools
import os

import pytest

from hypothesis import settings

from blobedu.clock import VirtualClock
from blobedu.endpoint import InProcessEndpoint
from blobedu.store import S3BlobStore, StoreConfig

# In CI every property test draws the same examples on every run (derandomize): a defect the search
# can reach is caught on every run or on none, never on one run and missed on the next.  Locally the
# search stays random, so it keeps exploring; HYPOTHESIS_PROFILE=ci reproduces CI.
settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default"))

_BLOBS = itertools.count(1)


def pytest_configure(config):
    """Switch off looptime's pytest plugin when pytest-asyncio is absent.

    looptime 0.9 registers a ``pytest_fixture_setup`` wrapper that calls
    ``pluginmanager.getplugin("asyncio").__name__``; without pytest-asyncio that is ``None`` and
    *every* fixture (parametrize arguments, capsys, tmp_path...) errors with AttributeError
    (looptime/_internal/plugin.py:249).  blobedu uses looptime's event loop directly, never the
    plugin, so nothing is lost.  Equivalent to ``-p no:looptime_plugin``.
    """
    pm = config.pluginmanager
    plugin = pm.get_plugin("looptime_plugin")
    if plugin is not None and pm.get_plugin("asyncio") is None:
        pm.unregister(plugin)


def fresh_blob() -> bytes:
    """A message body no other test has stored, so a read-back never sees another test's object."""
    return f"Subject: test {next(_BLOBS)}\r\n\r\nbody\r\n".encode()


@pytest.fixture(scope="module")
def endpoint():
    """One moto ``mock_aws`` for the whole module; every store gets its own fresh VirtualClock."""
    ep = InProcessEndpoint()
    yield ep
    ep.close()


@pytest.fixture(scope="module")
def run_put(endpoint):
    """``run_put(version=..., faults=[...], **config)``: one PUT of a fresh blob on a fresh VirtualClock."""

    def run(version: str = "0.16.18", faults=(), **config):
        store = S3BlobStore(StoreConfig(version=version, **config), endpoint, VirtualClock(), list(faults))
        store.origin = store.clock.now()
        return store.put(fresh_blob())

    return run
