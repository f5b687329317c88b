"""The event kernel: processes written as generators that yield the time they want to wake at.

Wake-ups are ``(process, token)`` pairs kept in a calendar: for each future instant, a list of the
wake-ups asked for it, in the order they were asked, and a heap of those instants (each once).
That is the order of one heap of ``(time, sequence number, process, token)`` entries, which the
kernel used before, at less cost: the heap holds bare floats and sees each instant once, however
many wake-ups share it (Postfix's and Exim's queue runs), and no sequence number is drawn.

A process woken early (:meth:`Kernel._wake`, a reply landing before the sender's deadline) bumps
its token, so the wake-up it asked for earlier is skipped when its instant comes (counted in
``skipped``).  A killed process (:meth:`Kernel._kill`, a crash) gets ``GeneratorExit`` at its
``yield``: the receivers' processes catch it to release what they hold, and re-raise.

Arrivals are fed lazily from a sorted sequence, not pushed up front: the calendar holds only what
is in flight, so its size follows the work under way, not the number of messages.  An arrival at
the same instant as a wake-up goes first, as it did when every arrival was pushed before anything
else.

A wake-up for the current instant (a reply waking its sender, a slot handed to waiting mail) goes
to a FIFO, ``_ready``, served after the calendar's list for this instant: it was asked for after
everything on that list, and before anything later.
"""

from __future__ import annotations

import heapq
import math
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
        self._times: list = []  # heap of the instants that have wake-ups waiting, each once
        self._calendar: dict = {}  # instant -> [(proc, token), ...], in the order they were asked for
        self._ready: deque = deque()  # (proc, token) wake-ups for the current instant, in order
        self.now = 0.0
        self.ended = 0.0
        self.steps = 0
        self.skipped = 0  # of the steps, wake-ups skipped: cancelled (a woken or killed process's)
        #: the latest wake-up a process chose not to ask for because it could only have been skipped
        #: (FastPath._fast_dot's deadline): the run still ends no earlier than it, as if it were asked
        self.left_out = -math.inf
        self.step_budget = step_budget if step_budget is not None else 2**62

    def _push(self, when: float, proc: _Proc, token: int) -> None:
        """A wake-up at ``when`` (later than now): appended to its instant's list, the instant put on the heap once."""
        waiting = self._calendar.get(when)
        if waiting is None:
            self._calendar[when] = [(proc, token)]
            heapq.heappush(self._times, when)
        else:
            waiting.append((proc, token))

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
                self._push(when, proc, proc.token)

    def _at(self, when: float, gen: Iterator) -> _Proc:
        """Schedule a process that has not started yet to start at ``when``."""
        proc = _Proc()
        proc.gen = gen
        if when == self.now:
            self._ready.append((proc, 0))
        else:
            self._push(when, proc, 0)
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

        At each instant: its arrivals first, then the wake-ups asked for it earlier (the calendar's
        list for it, in the order they were asked for), then the ``_ready`` FIFO (wake-ups asked
        for during this instant, in order).
        """
        instants, calendar, ready, horizon = self._times, self._calendar, self._ready, self.horizon
        pop, push, popleft, get = heapq.heappop, heapq.heappush, ready.popleft, calendar.get
        i, n = 0, len(times)
        never = math.inf
        next_at = times[0] if n else never  # the next arrival's time (times[i])
        budget = self.step_budget
        steps = skipped = 0
        now = self.now
        due: list = []  # the wake-ups asked for earlier for this instant
        k = d = 0  # the next one of them, and how many
        while True:
            steps += 1
            if steps > budget:
                self.steps, self.skipped = steps, skipped
                raise BlobeduError(
                    f"refused: this run needs more than {budget:,} steps (the bound for {n:,} messages), "
                    f"stopped at {self.now / 3600:,.1f} h of simulated time; use fewer messages, a shorter "
                    "outage or more S3 capacity")
            if next_at <= now:  # an arrival at this instant goes first
                proc = _Proc()
                proc.gen = arrive(i, proc)
                i += 1
                next_at = times[i] if i < n else never
            elif k < d:
                proc, token = due[k]
                k += 1
                if token != proc.token or not proc.alive:
                    skipped += 1
                    continue
            elif ready:
                proc, token = popleft()
                if token != proc.token or not proc.alive:
                    skipped += 1
                    continue
            else:  # this instant is over: on to the next arrival or the next instant with wake-ups
                if next_at < never and (not instants or next_at <= instants[0]):
                    when = next_at
                    if when > horizon:
                        break
                    self.now = self.ended = now = when
                    steps -= 1  # moving the clock is not a step: its arrival (next) is
                    continue  # its arrival goes first, then anything due at it
                if not instants:
                    break
                when = instants[0]
                if when > horizon:
                    break
                pop(instants)
                due = calendar.pop(when)
                k, d = 0, len(due)
                self.now = self.ended = now = when
                steps -= 1  # moving the clock is not a step: its first wake-up (next) is
                continue
            try:  # Kernel._step, inline
                when = proc.gen.send(None)
            except StopIteration:
                proc.alive = False
                continue
            if when is not None:
                if when == now:
                    ready.append((proc, proc.token))
                else:
                    waiting = get(when)
                    if waiting is None:
                        calendar[when] = [(proc, proc.token)]
                        push(instants, when)
                    else:
                        waiting.append((proc, proc.token))
        if (i < n and times[i] > horizon) or (instants and instants[0] > horizon):
            self.ended = horizon
        left_out = self.left_out  # a wake-up left out: its instant would have come, and been skipped
        if left_out > self.ended:
            self.ended = horizon if left_out > horizon else left_out
        self.steps, self.skipped = steps, skipped
