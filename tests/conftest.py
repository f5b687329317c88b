"""Shared fixtures: one in-process moto endpoint per test module (starting moto's mock is slow).

CI runs on a busy 2-core machine, so nothing here, and no test, may depend on how fast the wall clock
runs.  Three settings make the harness itself load-proof:

* Hypothesis: the ``blobedu`` profile (loaded below, the default for every ``@settings``) has no
  per-example ``deadline`` (Hypothesis' default of 200 ms fails a test whose example merely waited for
  a core) and no ``too_slow`` health check (it times input generation on the wall clock).
* nbval: it waits only 5 s for a cell's output messages once the cell has finished, and 60 s for a
  kernel to start; a kernel process that waits that long for a core fails the whole notebook.  Both
  are waits for readiness, so they are made generous here (:data:`READY_SECONDS`).
* A bound on how long a run may take ("no hang, no spin") is a bound on the work done, measured as CPU
  time (:func:`cpu_seconds`), which does not grow when other processes share the cores.
"""

from __future__ import annotations

import itertools
import resource

import pytest
from hypothesis import HealthCheck, settings

from blobedu.clock import VirtualClock
from blobedu.endpoint import InProcessEndpoint
from blobedu.store import S3BlobStore, StoreConfig

_BLOBS = itertools.count(1)

#: How long a readiness wait (a kernel to start, a cell's outputs to arrive) may last on a loaded
#: machine before it counts as a failure.  Only a broken run ever waits this long.
READY_SECONDS = 600

settings.register_profile("blobedu", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("blobedu")


def cpu_seconds() -> float:
    """CPU seconds used so far by this process (every thread) and by its children that have exited.

    The measure for "this run does a bounded amount of work": a run that spins (a virtual loop that
    never reaches its end, a huge retry count) uses CPU, and CPU time, unlike wall time, does not
    stretch when other work keeps the cores busy.
    """
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


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
    # nbval's kernel start-up wait (default 60 s), unless given on the command line
    if getattr(config.option, "nbval_kernel_startup_timeout", None) == 60:
        config.option.nbval_kernel_startup_timeout = READY_SECONDS


def pytest_collection_modifyitems(items):
    """nbval waits a fixed 5 s (``IPyNbCell.output_timeout``) for each output message of a cell that
    has already finished, then stops the kernel and fails every later cell: wait for readiness instead."""
    for item in items:
        if type(item).__name__ == "IPyNbCell" and hasattr(item, "output_timeout"):
            item.output_timeout = READY_SECONDS


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
