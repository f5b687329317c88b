"""The event kernel: processes written as generators that yield the time they want to wake at.

One heap of ``(time, seq, process, token)`` wake-ups.  A process woken early (:meth:`Kernel._wake`,
a reply landing before the sender's deadline) bumps its token, so the wake-up it asked for earlier
is skipped when popped.  A killed process (:meth:`Kernel._kill`, a crash) gets ``GeneratorExit``
at its ``yield``: the receivers' processes catch it to release what they hold, and re-raise.

Arrivals are fed lazily from a sorted sequence, not pushed on the heap up front: the heap holds
only what is in flight, so its size (and every push and pop) follows the work under way, not the
number of messages.  An arrival at the same instant as a wake-up goes first, as it did when every
arrival was pushed before anything else.

A wake-up for the current instant (a reply waking its sender, a slot handed to waiting mail) goes
to a FIFO, ``_ready``, rather than the heap: it would sort after everything already on the heap for
this instant (its sequence number is larger) and before anything later, so the FIFO, served after
the heap's entries for this instant, keeps exactly the heap's order at a fraction of the cost.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
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
        self._ready: deque = deque()  # (proc, token) wake-ups for the current instant, in order
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
            if when == self.now:
                self._ready.append((proc, proc.token))
            else:
                heapq.heappush(self._heap, (when, next(self._seq), proc, proc.token))

    def _at(self, when: float, gen: Iterator) -> _Proc:
        """Schedule a process that has not started yet to start at ``when``."""
        proc = _Proc()
        proc.gen = gen
        if when == self.now:
            self._ready.append((proc, 0))
        else:
            heapq.heappush(self._heap, (when, next(self._seq), proc, 0))
        return proc

    def _wake(self, proc: _Proc) -> None:
        """Wake a waiting process now, cancelling the wake-up it asked for."""
        proc.token += 1
        self._ready.append((proc, proc.token))

    def _kill(self, proc: _Proc) -> None:
        proc.token += 1
        proc.alive = False
        proc.gen.close()

    def _loop(self, times: Sequence[float], arrive: Callable[[int, _Proc], Iterator]) -> None:
        """Run until nothing is left or the horizon: ``times`` (sorted) are fed in as ``arrive(i, proc)`` starts.

        The next event is the first by (time, sequence number) of: the next arrival (first at its
        instant), the heap's top, and the ``_ready`` FIFO (this instant, after the heap's entries for it).
        """
        heap, ready, pop, push, seq, horizon = self._heap, self._ready, heapq.heappop, heapq.heappush, self._seq, self.horizon
        popleft = ready.popleft
        i, n = 0, len(times)
        budget = self.step_budget
        steps = 0
        now = self.now
        while True:
            steps += 1
            if steps > budget:
                self.steps = steps
                raise BlobeduError(
                    f"refused: this run needs more than {budget:,} steps (the bound for {n:,} messages), "
                    f"stopped at {self.now / 3600:,.1f} h of simulated time; use fewer messages, a shorter "
                    "outage or more S3 capacity")
            if ready:  # every entry is for `now`: an arrival or a heap entry at `now` goes first
                if i < n and times[i] <= now:
                    proc = _Proc()
                    proc.gen = arrive(i, proc)
                    i += 1
                elif heap and heap[0][0] <= now:
                    _, _, proc, token = pop(heap)
                    if token != proc.token or not proc.alive:
                        continue
                else:
                    proc, token = popleft()
                    if token != proc.token or not proc.alive:
                        continue
            elif i < n and (not heap or times[i] <= heap[0][0]):
                when = times[i]
                if when > horizon:
                    self.ended = horizon
                    self.steps = steps
                    return
                self.now = self.ended = now = when
                proc = _Proc()
                proc.gen = arrive(i, proc)
                i += 1
            else:
                if not heap:
                    self.steps = steps
                    return
                when = heap[0][0]
                if when > horizon:
                    self.ended = horizon
                    self.steps = steps
                    return
                _, _, proc, token = pop(heap)
                if token != proc.token or not proc.alive:
                    continue
                self.now = self.ended = now = when
            try:  # Kernel._step, inline
                when = proc.gen.send(None)
            except StopIteration:
                proc.alive = False
                continue
            if when is not None:
                if when == now:
                    ready.append((proc, proc.token))
                else:
                    push(heap, (when, next(seq), proc, proc.token))
