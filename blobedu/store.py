"""The S3 blob store model: Stalwart's retry loop (:mod:`policy`) run against a real endpoint and a clock.

:class:`S3BlobStore` is the driver.  It asks the pure machine in :mod:`blobedu.policy` what to do
next, sends each request through boto3 to moto (:mod:`blobedu.endpoint`) meeting whatever fault
the :class:`~blobedu.faults.FaultPlan` holds at that moment, lets the clock wait, and writes it
all into a :class:`~blobedu.trace.StoreTrace`.  There is a synchronous driver (``put``/``get``/
``delete``) and an asyncio one (``aput``/``aget``) for the SMTP receiver; both run the same machine.

A request's cost on the clock depends on what the version's ``timeout`` bounds (facts §1, the
``timeout_bounds`` column of :mod:`blobedu.versions`); the rules live in :mod:`blobedu.edge`, which
the fleet engine (:mod:`blobedu.fleet`) shares:

* whole request (v0.5.0-v0.8.1, v0.16.x; reqwest): ``refused`` costs nothing, ``timeout`` (a silent
  S3) costs the whole timeout, anything else the configured latency.  A latency at or above the
  timeout is a timeout, whatever S3 would have answered.
* TCP connect only (v0.8.2-v0.15.x; hyper 0.14's ``set_connect_timeout``): a latency is just a
  latency, however long, and a silent S3 is **never timed out**.  The request *hangs* until that
  fault's window ends, when the endpoint restarts and resets the connection: the request is recorded
  as ``"hung"`` with its elapsed time running to the reset, and fails as a transport error (no hidden
  retry before v0.16).  If the window never ends, the request hangs for the rest of the run: the
  operation's outcome is ``"hung"`` (on its own, the run stops at :data:`~blobedu.clock.HORIZON_SECONDS`;
  inside a delivery, when nothing else is left to happen).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import policy
from .clock import HORIZON_SECONDS, VirtualClock
from .edge import RequestRules
from .errors import BlobeduError
from .faults import Fault, FaultPlan, plan
from .trace import RequestRecord, SleepRecord, StoreTrace
from .versions import LATEST, Behaviour, behaviour


def blob_key(data: bytes) -> str:
    """The object key: Base32 of the blob's BLAKE3 hash (``build_key``, mod.rs@v0.16.18).

    Stalwart encodes with its own Base32 alphabet (encodify's ``STALWART``); this uses RFC 4648's,
    lower-cased and unpadded, which changes the letters but not the idea.
    """
    from blake3 import blake3

    return base64.b32encode(blake3(data).digest()).decode().rstrip("=").lower()


@dataclass(frozen=True)
class StoreConfig:
    """The blob-store settings of one Stalwart: version, maxRetries, timeout, verifyAfterWrite, latency."""

    version: str = LATEST
    max_retries: Optional[int] = None
    timeout: Optional[float] = None
    verify: Optional[bool] = None
    latency: float = 0.0

    @property
    def behaviour(self) -> Behaviour:
        """The version-table row this config runs on."""
        return behaviour(self.version)

    def resolved(self) -> dict[str, Any]:
        """Defaults filled in from the version's row, and every value checked."""
        b = self.behaviour
        if self.max_retries is not None:
            if b.max_retries_range is None:
                raise BlobeduError(f"Stalwart {self.version} has no max-retries setting: it never retries")
            lo, hi = b.max_retries_range
            if not lo <= int(self.max_retries) <= hi:
                raise BlobeduError(f"max-retries {self.max_retries} is out of range for Stalwart {self.version}: {lo} to {hi}")
        if self.verify and not b.verify_supported:
            raise BlobeduError(f"Stalwart {self.version} has no verifyAfterWrite: it first appears in 0.16.2")
        timeout = b.default_timeout if self.timeout is None else float(self.timeout)
        if not timeout > 0:
            raise BlobeduError(f"timeout must be more than 0 seconds, got {self.timeout}")
        if not self.latency >= 0:
            raise BlobeduError(f"latency must be 0 or more seconds, got {self.latency}")
        settings = {
            "version": self.version,
            "max_retries": (b.default_max_retries if self.max_retries is None else int(self.max_retries))
            if b.retries else 0,
            "timeout": timeout,
            "verify": b.verify_default if self.verify is None else bool(self.verify),
            "latency": float(self.latency),
            "transport_retries": b.transport_retries,
        }
        return settings

    def check_horizon(self) -> dict[str, Any]:
        """:meth:`resolved`, and refuse settings whose longest S3 write could outlast the 30-day horizon.

        Every run checks this before it starts (:class:`S3BlobStore`, :func:`put`, delivery's
        config check): a value Stalwart itself accepts (maxRetries is a u32 before v0.16) may still
        describe a run blobedu cannot simulate in bounded time.
        """
        settings = self.resolved()
        _check_horizon(self.version, self.behaviour, settings)
        return settings


def longest_operation(b: Behaviour, max_retries: int, timeout: float, verify: bool,
                      latency: float = 0.0) -> tuple[float, float]:
    """An upper bound on one blob operation's time, and the backoff sleeps in it: ``(total, sleeps)``.

    Every round of the loop (at most ``1 + max_retries``) sends a PUT and, with verify, a HEAD;
    each of those is tried ``1 + transport_retries`` times (rust-s3's hidden retry, sleeping n² s).
    A request costs at most the timeout where it bounds the whole request, else at most the
    larger of timeout and latency.  Between rounds sleeps the version's backoff.  Not counted: a
    request hung on a silent S3 (connect-only versions), which lasts until its fault window ends
    (at most the horizon: durations are) and ends the operation.
    """
    sends = (1 + max_retries) * (2 if verify else 1)
    per_request = timeout if b.timeout_bounds == "request" else max(timeout, latency)
    transport = sum(b.transport_retry_delay(n) for n in range(1, b.transport_retries + 1))
    sleeps = 0.0
    if b.backoff is not None:
        # every backoff sleeps at least 1 s (1 << n), so past HORIZON_SECONDS retries the sum is past
        # the horizon anyway: stop adding there (maxRetries may be a u32, 4 billion terms)
        for k in range(min(max_retries, int(HORIZON_SECONDS) + 1)):
            sleeps += b.backoff.seconds(k)
            if sleeps > HORIZON_SECONDS:
                sleeps += max_retries - k - 1  # the rest sleep 1 s or more each: still a lower bound
                break
    return sends * ((1 + b.transport_retries) * per_request + transport) + sleeps, sleeps


def _check_horizon(version: str, b: Behaviour, s: dict[str, Any]) -> None:
    """Refuse settings whose longest S3 operation could outlast :data:`~blobedu.clock.HORIZON_SECONDS`.

    The v0.10.3-v0.11.1 backoff is ``1 << (max_retries - retries_left).max(16)`` seconds: 65,536 s
    for each of the first 16 retries, then 2**17, 2**18 ... s, so maxRetries 21 already sleeps
    more than 30 days.  The shift is on a u64 and wraps to ``k & 63`` in a release build
    (:class:`~blobedu.versions.Backoff` models that), so the sleeps cycle through 1 s ... 2**63 s
    and a run with a large maxRetries only gets longer: it is refused here, with the reason,
    before anything starts, instead of printing a finish time of 10**19 days.
    """
    total, sleeps = longest_operation(b, s["max_retries"], s["timeout"], s["verify"], s["latency"])
    if total <= HORIZON_SECONDS:
        return
    from .durations import format_duration

    def days(seconds: float) -> str:
        d = seconds / 86400.0
        return f"{d:.1f} days" if d < 1e6 else f"about {d:.1e} days"

    settings = (f"Stalwart {version} with max-retries {s['max_retries']}, timeout {format_duration(s['timeout'])} "
                f"and latency {format_duration(s['latency'])}")
    if sleeps > HORIZON_SECONDS:  # (the sum may have stopped early: it is then a lower bound)
        raise BlobeduError(f"{settings}: one S3 write could sleep {days(sleeps)} or more in backoff alone, past "
                           "blobedu's horizon of 30 days; lower max-retries")
    why = "timeout" if b.timeout_bounds == "request" else "timeout or the latency"
    raise BlobeduError(
        f"{settings}: one S3 write could take up to {days(total)} (every request can last the {why}), past "
        "blobedu's horizon of 30 days; lower max-retries, the timeout or the latency"
    )


class S3BlobStore:
    """Stalwart's ``S3Store`` over a real S3 API: put/get/delete with the version's retry loop."""

    def __init__(self, config: StoreConfig | None = None, endpoint=None, clock=None,
                 faults: FaultPlan | list[str] | None = None) -> None:
        from .endpoint import InProcessEndpoint

        self.config = config or StoreConfig()
        self.settings = self.config.check_horizon()
        self.rules = RequestRules.of(self.config.behaviour, self.settings)
        self._owns_endpoint = endpoint is None
        self.endpoint = endpoint if endpoint is not None else InProcessEndpoint()
        self.clock = clock if clock is not None else VirtualClock()
        self.faults = plan(faults)
        self.origin = 0.0  # fault windows count from here on the clock
        # requests hung for good (asyncio driver): how many, and what ends them (the end of the run)
        self.hanging_forever = 0
        self._stalled = None
        self._run_over = None
        prepare = getattr(self.endpoint, "prepare", None)
        if prepare is not None:
            prepare(self.settings["timeout"], real_time=self.clock.real)

    # -- machines ---------------------------------------------------------------------------
    def _machine(self, operation: str) -> policy.Machine:
        b, s = self.config.behaviour, self.settings
        if operation == "put":
            return policy.put(b, s["max_retries"], s["verify"])
        if operation == "get":
            return policy.get(b, s["max_retries"])
        return policy.delete(b, s["max_retries"])

    def _fault_for(self, t: float) -> Optional[Fault]:
        return self.rules.fault_for(self.faults.s3_fault_at(t - self.origin))

    def _cost(self, reply: policy.Reply) -> float:
        return self.rules.cost(reply)

    def _hang(self, reply: policy.Reply, fault: Optional[Fault], t: float) -> tuple[policy.Reply, Optional[float]]:
        """On a connect-only version, a silent S3 is never timed out (:meth:`RequestRules.hang`)."""
        return self.rules.hang(reply, fault, t - self.origin)

    def _new_trace(self, operation: str, key: str) -> StoreTrace:
        return StoreTrace(operation=operation, version=self.config.version, config=dict(self.settings),
                          faults=self.faults.specs(), key=key)

    def _record_request(self, trace: StoreTrace, step: policy.Send, reply: policy.Reply, fault: Optional[Fault],
                        sent: float, now: float) -> RequestRecord:
        """Append one request to the trace (times on the fault plan's clock) and return it."""
        record = RequestRecord(sent - self.origin, step.method, reply.result, now - sent,
                               fault.spec() if fault else None)
        trace.requests.append(record)
        return record

    def _record_sleep(self, trace: StoreTrace, step: policy.Sleep, now: float) -> None:
        """Append one wait to the trace."""
        trace.sleeps.append(SleepRecord(now - self.origin, step.seconds, step.reason))

    def _finish(self, trace: StoreTrace, outcome: Optional[policy.Outcome], operation: str, key: str,
                now: float) -> StoreTrace:
        """Close the trace; ``outcome`` None means the operation was still hung when the run ended."""
        trace.ended = now - self.origin
        trace.error = outcome.error if outcome else None
        if outcome is None:
            trace.outcome = "hung"
            trace.durable = self.endpoint.exists(key) if operation == "put" else None
        elif operation == "put":
            trace.outcome = "stored" if outcome.ok else "failed"
            trace.durable = self.endpoint.exists(key)
        elif operation == "get":
            # a 404 is None, not an error (get_blob, mod.rs@v0.16.18:94-135; facts §1)
            trace.outcome = ("found" if outcome.found else "not-found") if outcome.ok else "failed"
        else:
            trace.outcome = "deleted" if outcome.ok else "failed"
        return trace

    # -- synchronous driver -------------------------------------------------------------------
    def _run(self, operation: str, key: str, data: bytes = b"") -> StoreTrace:
        trace = self._new_trace(operation, key)
        trace.started = self.clock.now() - self.origin
        machine = self._machine(operation)
        step = next(machine)
        while True:
            try:
                if isinstance(step, policy.Send):
                    t = self.clock.now()
                    fault = self._fault_for(t)
                    reply, wall = self.endpoint.send(step.method, key, data, fault, self.settings["timeout"],
                                                     real_time=self.clock.real)
                    reply, hang = self._hang(reply, fault, t)
                    if hang == float("inf"):
                        if self.clock.real:
                            raise BlobeduError(
                                f"Stalwart {self.config.version} never times out a silent S3 (its timeout bounds only "
                                f"the TCP connect), so {fault.spec() if fault else 'this fault'} would hang for real, "
                                "forever: give the fault an END")
                        self.clock.spend(max(0.0, HORIZON_SECONDS + self.origin - t))
                        self._record_request(trace, step, reply, fault, t, self.clock.now())
                        return self._finish(trace, None, operation, key, self.clock.now())
                    self.clock.spend(self._cost(reply) if hang is None else hang, already=wall)
                    self._record_request(trace, step, reply, fault, t, self.clock.now())
                    step = machine.send(reply)
                else:
                    self._record_sleep(trace, step, self.clock.now())
                    self.clock.sleep(step.seconds)
                    step = machine.send(None)
            except StopIteration as done:
                return self._finish(trace, done.value, operation, key, self.clock.now())

    def put(self, data: bytes, key: Optional[str] = None) -> StoreTrace:
        """``put_blob``: store ``data`` under its BLAKE3 key (or ``key``) and trace every step."""
        return self._run("put", key or blob_key(data), data)

    def get(self, key: str) -> StoreTrace:
        """``get_blob``: read a blob back; ``outcome`` is found, not-found (a 404) or failed."""
        return self._run("get", key)

    def delete(self, key: str) -> StoreTrace:
        """``delete_blob``: remove a blob."""
        return self._run("delete", key)

    # -- asyncio driver (the SMTP receiver runs on an event loop) --------------------------------
    async def _arun(self, operation: str, key: str, data: bytes, clock, on_event: Optional[Callable] = None) -> StoreTrace:
        trace = self._new_trace(operation, key)
        trace.started = clock.now() - self.origin
        machine = self._machine(operation)
        step = next(machine)
        while True:
            try:
                if isinstance(step, policy.Send):
                    t = clock.now()
                    fault = self._fault_for(t)
                    if clock.real:
                        reply, wall = await clock.loop.run_in_executor(
                            None, lambda: self.endpoint.send(step.method, key, data, fault,
                                                             self.settings["timeout"], real_time=True))
                    else:
                        reply, wall = self._send(step, key, data, fault)
                    reply, hang = self._hang(reply, fault, t)
                    if hang == float("inf"):
                        await self._hang_until_run_over()
                        self._record_request(trace, step, reply, fault, t, clock.now())
                        return self._finish(trace, None, operation, key, clock.now())
                    await clock.spend(self._cost(reply) if hang is None else hang, already=wall)
                    record = self._record_request(trace, step, reply, fault, t, clock.now())
                    if on_event:
                        on_event(record)
                    step = machine.send(reply)
                else:
                    self._record_sleep(trace, step, clock.now())
                    await clock.sleep(step.seconds)
                    step = machine.send(None)
            except StopIteration as done:
                return self._finish(trace, done.value, operation, key, clock.now())

    def _send(self, step: policy.Send, key: str, data: bytes, fault: Optional[Fault]) -> tuple[policy.Reply, float]:
        """Send one step's request to the endpoint (virtual time); a subclass may answer some steps itself."""
        return self.endpoint.send(step.method, key, data, fault, self.settings["timeout"])

    # -- requests that hang for good (asyncio driver) ----------------------------------------------
    def _signals(self):
        import asyncio

        if self._run_over is None:
            self._run_over = asyncio.get_running_loop().create_future()
            self._stalled = asyncio.Event()
        return self._run_over, self._stalled

    async def _hang_until_run_over(self) -> None:
        """Wait, as a request to a silent S3 on a connect-only version does, until the run is over."""
        run_over, stalled = self._signals()
        self.hanging_forever += 1
        stalled.set()
        try:
            await run_over
        finally:
            self.hanging_forever -= 1

    async def wait_for(self, live: Callable[[], set]) -> None:
        """Wait until ``live()`` has no task left, or every task left is hung for good; then end those.

        This is how a run ends: a request that hangs forever cannot finish, so once nothing but such
        requests is left, the run is over, and they end as ``"hung"`` at that moment.
        """
        import asyncio

        run_over, stalled = self._signals()
        while live():
            if self.hanging_forever >= len(live()):
                break
            stalled.clear()
            waiter = asyncio.ensure_future(stalled.wait())
            await asyncio.wait(live() | {waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        if not run_over.done():
            run_over.set_result(None)
        while live():
            await asyncio.gather(*live(), return_exceptions=True)

    async def aput(self, data: bytes, clock, key: Optional[str] = None, on_event: Optional[Callable] = None) -> StoreTrace:
        """``put_blob`` on an asyncio loop (see :class:`~blobedu.clock.LoopClock`)."""
        return await self._arun("put", key or blob_key(data), data, clock, on_event)

    async def aget(self, key: str, clock) -> StoreTrace:
        """``get_blob`` on an asyncio loop."""
        return await self._arun("get", key, b"", clock)

    async def adelete(self, key: str, clock) -> StoreTrace:
        """``delete_blob`` on an asyncio loop (the purge's DELETE)."""
        return await self._arun("delete", key, b"", clock)

    def close(self) -> None:
        """Close the endpoint if this store made it."""
        if self._owns_endpoint:
            self.endpoint.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def put(data: bytes = b"Subject: hello\r\n\r\nA message body.\r\n", faults=None, config: StoreConfig | None = None,
        endpoint: str = "in-process", clock=None) -> StoreTrace:
    """One traced PUT on a fresh endpoint: the function behind ``blobedu put``."""
    from .endpoint import make

    config = config or StoreConfig()
    config.check_horizon()  # fail on bad input before starting anything
    fault_plan = plan(faults)
    fault_plan.require_s3_only("blobedu put")
    ep = make(endpoint)
    try:
        store = S3BlobStore(config, ep, clock, fault_plan)
        store.origin = store.clock.now()
        return store.put(data)
    finally:
        ep.close()


def get(data: bytes = b"Subject: hello\r\n\r\nA message body.\r\n", faults=None, config: StoreConfig | None = None,
        endpoint: str = "in-process", clock=None, missing: bool = False) -> StoreTrace:
    """One traced GET on a fresh endpoint: the function behind ``blobedu get``.

    The blob is first stored with no fault and off the clock (the message was accepted before the
    outage); ``missing`` skips that, so S3 answers 404.  Then ``get_blob`` runs through the faults,
    which count from the GET's first request, exactly as ``put``'s do.
    """
    from .endpoint import make

    config = config or StoreConfig()
    config.check_horizon()  # fail on bad input before starting anything, as put does
    fault_plan = plan(faults)
    fault_plan.require_s3_only("blobedu get")
    ep = make(endpoint)
    try:
        key = blob_key(data)
        if not missing:
            reply, _ = ep.send("PUT", key, data, None, config.resolved()["timeout"])
            if reply.status != 200:  # pragma: no cover - moto always keeps a fault-free PUT
                raise BlobeduError(f"could not store the blob before the GET: {reply.result}")
        store = S3BlobStore(config, ep, clock, fault_plan)
        store.origin = store.clock.now()
        return store.get(key)
    finally:
        ep.close()
