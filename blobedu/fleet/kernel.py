"""The event kernel: processes written as generators that yield the time they want to wake at.

One heap of ``(time, seq, process, token)`` wake-ups.  A process woken early (:meth:`Kernel._wake`,
a reply landing before the sender's deadline) bumps its token, so the wake-up it asked for earlier
is skipped when popped.  A killed process (:meth:`Kernel._kill`, a crash) gets ``GeneratorExit``
at its ``yield``: the receivers' processes catch it to release what they hold, and re-raise.

Arrivals are fed lazily from a sorted sequence, not pushed on the heap up front: the heap holds
only what is in flight, so its size (and every push and pop) follows the work under way, not the
number of messages.  An arrival at the same instant as a wake-up goes first, as it did when every
arrival was pushed before anything else.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Callable, Iterator, Optional, Sequence

from ..errors import BlobeduError


class _Proc:
    """A process: a generator that yields the time it wants to wake at (None: until something wakes it)."""

    __slots__ = ("gen", "token", "alive")

    def __init__(self) -> None:
        self.gen: Optional[Iterator] = None
        self.token = 0
        self.alive = True


class Kernel:
    """The heap, the clock and the loop; :class:`~blobedu.fleet.engine.Fleet` adds the processes."""

    def _init_kernel(self, horizon: float, step_budget: Optional[int] = None) -> None:
        self.horizon = float(horizon)
        self._heap: list = []
        self._seq = itertools.count()
        self.now = 0.0
        self.ended = 0.0
        self.steps = 0
        self.step_budget = step_budget if step_budget is not None else 2**62

    def _start(self, make) -> _Proc:
        """Start a process now: ``make(proc)`` returns its generator, which runs to its first yield."""
        proc = _Proc()
        proc.gen = make(proc)
        self._step(proc, None)
        return proc

    def _step(self, proc: _Proc, value) -> None:
        try:
            when = proc.gen.send(value)
        except StopIteration:
            proc.alive = False
            return
        if when is not None:
            heapq.heappush(self._heap, (when, next(self._seq), proc, proc.token))

    def _at(self, when: float, gen: Iterator) -> _Proc:
        """Schedule a process that has not started yet to start at ``when``."""
        proc = _Proc()
        proc.gen = gen
        heapq.heappush(self._heap, (when, next(self._seq), proc, 0))
        return proc

    def _wake(self, proc: _Proc) -> None:
        """Wake a waiting process now, cancelling the wake-up it asked for."""
        proc.token += 1
        heapq.heappush(self._heap, (self.now, next(self._seq), proc, proc.token))

    def _kill(self, proc: _Proc) -> None:
        proc.token += 1
        proc.alive = False
        proc.gen.close()

    def _loop(self, times: Sequence[float], arrive: Callable[[int, _Proc], Iterator]) -> None:
        """Run until nothing is left or the horizon: ``times`` (sorted) are fed in as ``arrive(i, proc)`` starts."""
        heap, pop, horizon = self._heap, heapq.heappop, self.horizon
        i, n = 0, len(times)
        budget = self.step_budget
        steps = 0
        while True:
            steps += 1
            if steps > budget:
                self.steps = steps
                raise BlobeduError(
                    f"refused: this run needs more than {budget:,} steps (the bound for {n:,} messages), "
                    f"stopped at {self.now / 3600:,.1f} h of simulated time; use fewer messages, a shorter "
                    "outage or more S3 capacity")
            if i < n and (not heap or times[i] <= heap[0][0]):
                when = times[i]
                if when > horizon:
                    self.ended = horizon
                    self.steps = steps
                    return
                self.now = self.ended = when
                proc = _Proc()
                proc.gen = arrive(i, proc)
                i += 1
                self._step(proc, None)
                continue
            if not heap:
                self.steps = steps
                return
            when, _, proc, token = heap[0]
            if when > horizon:
                self.ended = horizon
                self.steps = steps
                return
            pop(heap)
            if token != proc.token or not proc.alive:
                continue
            self.now = self.ended = when
            self._step(proc, None)
