"""Clocks: the only place in blobedu that waits.

A :class:`VirtualClock` (the default) moves time forward instantly, so a four-day outage
simulates in milliseconds and every run is deterministic.  A :class:`RealClock` really sleeps, for
demos against a loopback server.  Both count seconds from their own start, so a fault window
``503@0-1h`` means the same thing on either.
"""

from __future__ import annotations

import time

from .errors import BlobeduError

#: The longest stretch of simulated time any run covers: 30 days.  Every sender gives up within 5
#: days (Postfix's maximal_queue_lifetime, the longest of them), so a run that needs more is
#: either stuck (a silent S3 on a version with no request timeout) or absurd; it stops here.  It is
#: also far below 2**24 s (194 days), where looptime's event loop stops resolving timers and would
#: spin at 100 % CPU forever.  Inputs that could outlast it are refused
#: (:meth:`blobedu.store.StoreConfig.check_horizon`, :func:`blobedu.durations.parse_duration`), and
#: :func:`run_virtual` never lets a loop's clock pass it.
HORIZON_SECONDS = 30 * 86400.0


def past_horizon(what: str) -> BlobeduError:
    """The error for a run that reached :data:`HORIZON_SECONDS`."""
    return BlobeduError(f"{what} would run past blobedu's horizon of 30 days (HORIZON_SECONDS); "
                        "shorten the timeout, the retries or the faults")


class VirtualClock:
    """Simulated time: ``sleep`` and ``spend`` advance ``now()`` at once, nothing waits."""

    real = False

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._end = self._now + HORIZON_SECONDS

    def now(self) -> float:
        """Seconds on this clock."""
        return self._now

    def _advance(self, seconds: float) -> None:
        if not self._now + seconds <= self._end:  # also refuses NaN
            raise past_horizon("this run")
        self._now += seconds

    def sleep(self, seconds: float) -> None:
        """Advance time by ``seconds`` (no real waiting)."""
        if seconds < 0:
            raise ValueError("cannot sleep a negative time")
        self._advance(seconds)

    def spend(self, seconds: float, already: float = 0.0) -> None:
        """Account for a request that took ``seconds`` on the model's clock."""
        self._advance(max(0.0, seconds))


class RealClock:
    """Wall-clock time from construction; ``sleep`` really sleeps."""

    real = True

    def __init__(self) -> None:
        self._t0 = time.monotonic()

    def now(self) -> float:
        """Seconds since this clock was made."""
        return time.monotonic() - self._t0

    def sleep(self, seconds: float) -> None:
        """Really wait ``seconds`` (never past the horizon: ``time.sleep`` overflows near 9e12 s)."""
        if not self.now() + seconds <= HORIZON_SECONDS:
            raise past_horizon("this run")
        if seconds > 0:
            time.sleep(seconds)

    def spend(self, seconds: float, already: float = 0.0) -> None:
        """A request should take ``seconds``; ``already`` of them really passed during the I/O."""
        self.sleep(seconds - already)


Clock = VirtualClock | RealClock


class LoopClock:
    """Time on a running asyncio loop (virtual under looptime, real otherwise), from ``origin``."""

    def __init__(self, loop, origin: float | None = None) -> None:
        self.loop = loop
        self.origin = loop.time() if origin is None else origin
        self.real = not getattr(loop, "looptime_on", False)

    def now(self) -> float:
        """Seconds since ``origin`` on the loop's clock."""
        return self.loop.time() - self.origin

    async def sleep(self, seconds: float) -> None:
        """Wait on the loop (instant in virtual time)."""
        import asyncio

        if seconds > 0:
            if not self.real:
                seconds = _on_looptime_grid(self.loop.time(), seconds)
            await asyncio.sleep(seconds)

    async def spend(self, seconds: float, already: float = 0.0) -> None:
        """A request should take ``seconds``; on a real loop ``already`` of them passed in the I/O."""
        await self.sleep(seconds - already if self.real else seconds)


def _on_looptime_grid(now: float, seconds: float) -> float:
    """``seconds``, lengthened by under a microsecond so that the wake-up falls on a whole microsecond.

    looptime keeps its clock in whole microseconds and steps to the next timer by rounding the gap; in
    looptime 0.3 (blobedu's lower bound; `make test-lowest` found it) a gap of under half a microsecond
    rounds to a step of 0, so a timer off that grid (the fair WAL's jittered upload wait, 37.1234567 s)
    is never reached and the loop spins at 100 % CPU forever.  Waits already on the grid (whole
    seconds, 0.2 s) are unchanged.
    """
    import math

    target = math.ceil(round((now + seconds) * 1_000_000, 3)) / 1_000_000
    return max(target - now, 0.0)


#: How many empty polls looptime makes before it jumps the virtual clock to the next timer (its default: 42).
#: The polls give I/O still in flight (bytes on a loopback socket) a chance to land before time moves.
#: They run only when nothing is ready to run, and on loopback a send lands in the peer's socket within
#: the sending call.  looptime instrumented to log any I/O that arrived during those polls logged none
#: in the whole suite but the browser, MTA and packaging tests (1,938 tests, the notebooks' nbval
#: included, run with 8), and none in 04's 48 panel runs with 42 (4,208 I/O wake-ups, every one found
#: by the poll before any countdown).  The 42 were about a third of a delivery's time (04's
#: three-design panel: 63,441 loop turns for 36 runs); 8 keep a margin (issue #19 item 8).
NOOP_CYCLES = 8


def run_virtual(make_coro):
    """Run ``make_coro()`` to completion on a fresh looptime loop whose virtual clock starts at 0.

    A notebook kernel already runs an asyncio loop in its main thread, and a thread can run only one
    loop; then the virtual loop runs in a worker thread instead, which changes nothing else.
    """
    import asyncio
    import concurrent.futures

    import looptime

    async def bounded():
        # never let the loop's virtual clock pass the horizon: looptime stops resolving timers
        # near 2**24 s and would spin at 100 % CPU forever
        try:
            return await asyncio.wait_for(make_coro(), HORIZON_SECONDS)
        except asyncio.TimeoutError:
            raise past_horizon("this delivery") from None

    def run():
        loop = looptime.new_event_loop(start=0.0, noop_cycles=NOOP_CYCLES)
        try:
            return loop.run_until_complete(bounded())
        finally:
            leftover = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in leftover:  # e.g. a receiver's queue, cut off at the horizon
                task.cancel()
            if leftover:
                loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="blobedu-virtual") as pool:
        return pool.submit(run).result()
