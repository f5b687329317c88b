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
everything on that list, and before anything later.  The FIFO is that list itself: a wake-up for
the current instant is appended to the list being served (see :meth:`Kernel._loop`).
"""

from __future__ import annotations

import heapq
import math
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
        self._ready: list = []  # (proc, token) wake-ups for the current instant, in order (the list being served)
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

        At an instant with arrivals: the arrivals first (started, and put at the head of the list
        being served), then the wake-ups they asked for this instant (the FIFO, in order).  Then, if
        the calendar has a list for it: that list (the wake-ups asked for it earlier, in the order
        they were asked for), then the FIFO again.

        The FIFO is the list being served: ``_ready`` is that list itself, a wake-up for this
        instant is appended to it, and the ``for`` loop over it reaches what is appended (a list's
        iterator checks its length at each item).  One loop per list instead of one loop turn per
        step that tests in turn for an arrival, the calendar's list and the FIFO.
        """
        instants, calendar, horizon = self._times, self._calendar, self.horizon
        pop, push, get = heapq.heappop, heapq.heappush, calendar.get
        i, n = 0, len(times)
        never = math.inf
        next_at = times[0] if n else never  # the next arrival's time (times[i])
        budget = self.step_budget
        steps = skipped = 0
        now = self.now
        batch = self._ready = list(self._ready)  # wake-ups asked for this instant before the loop (a fault at 0)
        while True:
            if next_at <= now:  # this instant's arrivals go first: the list's first entries, in order
                arrivals = []
                while next_at <= now:
                    proc = _Proc()
                    proc.gen = arrive(i, proc)  # a generator: nothing runs before its first step
                    arrivals.append((proc, 0))
                    i += 1
                    next_at = times[i] if i < n else never
                batch[:0] = arrivals
            for proc, token in batch:  # reaches the wake-ups appended while it runs (the FIFO)
                steps += 1
                if steps > budget:
                    self._over_budget(steps, skipped, n)
                if token != proc.token or not proc.alive:
                    skipped += 1
                    continue
                try:  # Kernel._step, inline
                    when = proc.gen.send(None)
                except StopIteration:
                    proc.alive = False
                    continue
                if when is not None:
                    if when == now:
                        batch.append((proc, proc.token))
                    else:
                        waiting = get(when)
                        if waiting is None:
                            calendar[when] = [(proc, proc.token)]
                            push(instants, when)
                        else:
                            waiting.append((proc, proc.token))
            # this instant's list is over: on to the next arrival or the next instant with wake-ups,
            # an arrival first on a tie (moving the clock is not a step)
            when = instants[0] if instants else never
            if next_at <= when:
                if next_at > horizon or next_at == never:
                    break
                self.now = now = next_at
                batch = self._ready = []  # its arrivals go first, then anything due at it
                continue
            if when > horizon:
                break
            pop(instants)
            batch = self._ready = calendar.pop(when)
            self.now = now = when
        self.ended = now  # the last instant the clock moved to
        steps += 1  # the last turn, which found nothing (or only what is past the horizon), counts as a step
        if steps > budget:
            self._over_budget(steps, skipped, n)
        if (i < n and times[i] > horizon) or (instants and instants[0] > horizon):
            self.ended = horizon
        left_out = self.left_out  # a wake-up left out: its instant would have come, and been skipped
        if left_out > self.ended:
            self.ended = horizon if left_out > horizon else left_out
        self.steps, self.skipped = steps, skipped

    def _over_budget(self, steps: int, skipped: int, n: int) -> None:
        self.steps, self.skipped, self.ended = steps, skipped, self.now
        raise BlobeduError(
            f"refused: this run needs more than {self.step_budget:,} steps (the bound for {n:,} messages), "
            f"stopped at {self.now / 3600:,.1f} h of simulated time; use fewer messages, a shorter "
            "outage or more S3 capacity")
