"""The retry loop of Stalwart's S3 backend, as a pure state machine: no sleeping, no network.

Theory of operation
-------------------
Each blob operation (``put``, ``get``, ``delete``) is a generator of *steps*.  It yields
:class:`Send` ("send this request now") and :class:`Sleep` ("wait this long"), receives a
:class:`Reply` for every ``Send``, and finally returns an :class:`Outcome`.  A driver
(:mod:`blobedu.store`) owns the endpoint and the clock; it does the I/O and the waiting.  Because
the machine never touches either, the same code runs on a virtual clock in microseconds, on the
real clock against a loopback S3, and inside an asyncio SMTP receiver.

The generators transcribe ``crates/store/src/backend/s3/mod.rs`` (``get_blob`` 94-135,
``put_blob`` 137-201, ``delete_blob`` 203-233 at v0.16.18).  Version differences come from the
:class:`~blobedu.versions.Behaviour` row, never from ``if version`` tests here:

* only HTTP 500-599 is retried, while retries are left; every other status is an ``S3Error``
  at once (429 and 403 included);
* a transport error (refused, timeout, or a hung connection that was finally reset) is an
  ``S3Error`` at once in Stalwart's loop (``.map_err(into_error)?``), after rust-s3's own hidden
  retry where the row has one;
* the k-th retry sleeps ``behaviour.backoff.seconds(k)``;
* with ``verify`` on, a 2xx PUT is followed by a HEAD; a 404 or 5xx HEAD with retries left sleeps
  and **sends the PUT again**, spending the same ``retries_left``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generator, Optional, Union

from .versions import HEAD_FAILED_ERROR, LOST_WRITE_ERROR, RETRY_STATUSES, Behaviour

#: ``hung``: on a version whose timeout bounds only the TCP connect (v0.8.2-v0.15.x), a request to an
#: S3 that accepted the connection and never answers waits until the peer resets it (facts §1).
TRANSPORT_ERRORS = ("refused", "timeout", "hung")
_TRANSPORT_SUMMARY = {
    "refused": "connection refused",
    "timeout": "operation timed out",
    "hung": "connection reset after the request hung",
}


@dataclass(frozen=True)
class Send:
    """Step: send one HTTP request (``PUT``, ``HEAD``, ``GET`` or ``DELETE``) now."""

    method: str


@dataclass(frozen=True)
class Sleep:
    """Step: wait ``seconds``; ``reason`` is ``"backoff"`` (Stalwart) or ``"transport-retry"`` (rust-s3)."""

    seconds: float
    reason: str


@dataclass(frozen=True)
class Reply:
    """What one request got: an HTTP ``status``, or a transport ``error`` (``refused``/``timeout``)."""

    status: Optional[int] = None
    error: Optional[str] = None
    body: str = ""

    @property
    def result(self) -> Union[int, str]:
        """The status number, or the transport error's name, as the trace records it."""
        return self.error if self.error else int(self.status or 0)


@dataclass(frozen=True)
class Outcome:
    """How an operation ended. ``ok`` False carries Stalwart's ``S3Error`` text in ``error``."""

    ok: bool
    error: Optional[str] = None
    found: Optional[bool] = None  # get: blob returned; delete: blob existed


Step = Union[Send, Sleep]
Machine = Generator[Step, Optional[Reply], Outcome]


def _s3_error(reply: Reply) -> str:
    """The error an operation ends with.

    An HTTP status gives Stalwart's ``S3Error`` with the code.  For a transport error Stalwart logs
    the error's Display joined with its source chain (``into_error``, mod.rs@v0.16.18:247), which is
    reqwest's chain on v0.16 and hyper's on v0.8.2-v0.15: this returns a *summary* in brackets,
    never a made-up copy of that chain.
    """
    if reply.error:
        return f"S3Error [transport error, summarised: {_TRANSPORT_SUMMARY.get(reply.error, reply.error)}]"
    return f"S3Error (code {reply.status}): {reply.body}".rstrip(": ")


def _request(b: Behaviour, method: str) -> Generator[Step, Optional[Reply], Reply]:
    """One bucket call: a request, plus rust-s3's hidden retry of transport errors where it exists."""
    attempt = 0
    while True:
        reply = yield Send(method)
        assert reply is not None
        if reply.error not in TRANSPORT_ERRORS or attempt >= b.transport_retries:
            return reply
        attempt += 1
        yield Sleep(b.transport_retry_delay(attempt), "transport-retry")


def _retry_budget(b: Behaviour, max_retries: Optional[int]) -> int:
    if not b.retries:
        return 0
    return b.default_max_retries if max_retries is None else max_retries


def _backoff(b: Behaviour, max_retries: int, retries_left: int) -> Sleep:
    assert b.backoff is not None
    return Sleep(b.backoff.seconds(max_retries - retries_left), "backoff")


def put(b: Behaviour, max_retries: Optional[int] = None, verify: Optional[bool] = None) -> Machine:
    """``put_blob`` (mod.rs@v0.16.18:137-201): PUT, retry 5xx with backoff, then the optional HEAD."""
    max_r = _retry_budget(b, max_retries)
    verify_on = b.verify_default if verify is None else (verify and b.verify_supported)
    retries_left = max_r
    while True:
        reply = yield from _request(b, "PUT")
        if reply.error:
            return Outcome(False, _s3_error(reply))
        status = int(reply.status or 0)
        if 200 <= status <= 299:
            if not verify_on:
                return Outcome(True)
            head = yield from _request(b, "HEAD")
            if head.error:
                return Outcome(False, _s3_error(head))
            code = int(head.status or 0)
            if 200 <= code <= 299:
                return Outcome(True)
            if (code == 404 or code in RETRY_STATUSES) and retries_left > 0:
                yield _backoff(b, max_r, retries_left)
                retries_left -= 1
                continue  # the loop goes round: the PUT is sent again
            if code == 404:
                return Outcome(False, f"S3Error (code 404): {LOST_WRITE_ERROR}")
            return Outcome(False, f"S3Error (code {code}): {HEAD_FAILED_ERROR}")
        if status in RETRY_STATUSES and retries_left > 0:
            yield _backoff(b, max_r, retries_left)
            retries_left -= 1
            continue
        return Outcome(False, _s3_error(reply))


def _simple(b: Behaviour, method: str, max_retries: Optional[int], not_found: Outcome, found: Outcome) -> Machine:
    max_r = _retry_budget(b, max_retries)
    retries_left = max_r
    while True:
        reply = yield from _request(b, method)
        if reply.error:
            return Outcome(False, _s3_error(reply))
        status = int(reply.status or 0)
        if 200 <= status <= 299:
            return found
        if status == 404:
            return not_found
        if status in RETRY_STATUSES and retries_left > 0:
            yield _backoff(b, max_r, retries_left)
            retries_left -= 1
            continue
        return Outcome(False, _s3_error(reply))


def get(b: Behaviour, max_retries: Optional[int] = None) -> Machine:
    """``get_blob`` (mod.rs@v0.16.18:94-135): 2xx is the blob, 404 is ``None`` (not an error)."""
    return _simple(b, "GET", max_retries, Outcome(True, found=False), Outcome(True, found=True))


def delete(b: Behaviour, max_retries: Optional[int] = None) -> Machine:
    """``delete_blob`` (mod.rs@v0.16.18:203-233): 2xx is ``true``, 404 is ``false``."""
    return _simple(b, "DELETE", max_retries, Outcome(True, found=False), Outcome(True, found=True))


def worst_case_seconds(b: Behaviour, max_retries: Optional[int], timeout: float,
                       verify: Optional[bool] = None) -> dict[str, float]:
    """Worst case for one PUT, in seconds, against a silent endpoint or a 5xx storm (facts §4 item 5).

    * ``sleep_5xx``: the backoff alone, when every request answers 5xx at once (``requests_5xx`` requests);
    * ``silent_endpoint``: an S3 that never answers; ``inf`` on a version whose timeout bounds only the
      TCP connect (v0.8.2-v0.15.x), where the request hangs until the peer drops it;
    * ``slow_5xx``: every PUT answers 5xx just before the timeout: the sleeps plus ``1 + maxRetries``
      slow requests;
    * ``slow_verify``: with verifyAfterWrite, every round is a slow 2xx PUT plus a slow 404/5xx HEAD,
      so ``2 × (1 + maxRetries)`` slow requests plus the sleeps (the HEAD shares the PUT's budget).
    """
    max_r = _retry_budget(b, max_retries)
    verify_on = b.verify_default if verify is None else (verify and b.verify_supported)
    sleeps = sum(b.backoff.seconds(k) for k in range(max_r)) if b.backoff else 0.0
    silent = (math.inf if b.hangs_on_silent_s3 else
              (1 + b.transport_retries) * timeout
              + sum(b.transport_retry_delay(n) for n in range(1, b.transport_retries + 1)))
    slow = sleeps + (1 + max_r) * timeout
    return {
        "requests_5xx": 1 + max_r,
        "sleep_5xx": sleeps,
        "silent_endpoint": silent,
        "slow_5xx": slow,
        "slow_verify": sleeps + 2 * (1 + max_r) * timeout if verify_on else slow,
    }
