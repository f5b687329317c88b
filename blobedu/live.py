"""A live demo on the real clock: a Stalwart receiver on 127.0.0.1 storing into a loopback S3 you can unplug.

Notebook 00 uses it: :meth:`LiveDemo.unplug` really stops the moto server, so the receiver's PUT
meets a refused TCP connection, rust-s3 retries it once after 1 s (v0.16), Stalwart gives up and
the sender (plain :mod:`smtplib`) gets ``451 4.3.5``.  :meth:`LiveDemo.plug` starts S3 again on
the same port and the next message gets ``250``.  Everything binds 127.0.0.1; the receiver's
event loop runs on a background thread, the store's blocking boto3 calls in its executor.

Every 250 reaches the mailbox.  After a 250 the receiver's queue delivers the message locally,
which reads the blob back from S3 (a GET).  :meth:`LiveDemo.send` returns only once that first
delivery attempt is over, so an :meth:`~LiveDemo.unplug` right after a send cannot cut the read
short; and if an attempt does fail (S3 unplugged while a retry runs), the queue entry is kept and
retried on the queue schedule, as Stalwart does.  :meth:`LiveDemo.close` plugs S3 back in and
runs the queue once more for anything still waiting, instead of dropping it, then stops.
"""

from __future__ import annotations

import asyncio
import random
import smtplib
import threading
import time
from dataclasses import dataclass
from typing import Optional

from .clock import LoopClock
from .endpoint import LoopbackEndpoint
from .receiver import StalwartReceiver
from .schedules import stalwart
from .sender import MAIL_FROM, RCPT_TO, sample_message
from .store import S3BlobStore, StoreConfig
from .trace import Custody


@dataclass
class LiveReply:
    """What the sender saw for one message: the reply line, how long it took, what S3 saw."""

    reply: str
    seconds: float
    requests: list

    def __str__(self) -> str:
        return self.reply


class LiveDemo:
    """A real receiver and a real loopback S3 on the wall clock; unplug and plug S3 between messages."""

    def __init__(self, config: Optional[StoreConfig] = None, timeout: Optional[float] = None) -> None:
        # timeout None: the version's default, 30 s (facts §1).  Nothing in the demo is meant to time
        # out (an unplugged S3 refuses at once), and on the wall clock a short timeout would turn a
        # PUT that a busy machine answers late into a 451.
        self.config = config or StoreConfig(timeout=timeout)
        self.s3 = LoopbackEndpoint()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.receiver = self._call(self._start())

    def _call(self, coro, timeout: float = 120.0):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _start(self) -> StalwartReceiver:
        clock = LoopClock(asyncio.get_running_loop())
        store = S3BlobStore(self.config, self.s3, clock)
        store.origin = 0.0
        receiver = StalwartReceiver(store, clock, Custody(), [], random.Random(0), stalwart(self.config.version))
        await receiver.start()
        return receiver

    @property
    def port(self) -> int:
        """The receiver's SMTP port on 127.0.0.1."""
        return self.receiver.port

    def unplug(self) -> None:
        """Stop the loopback S3: from now on every S3 request is refused."""
        self.s3.unplug()

    def plug(self) -> None:
        """Start the loopback S3 again on the same port."""
        self.s3.plug()

    def send(self, subject: str = "Hello from the live demo") -> LiveReply:
        """Send one message with smtplib and return the reply line to the final dot.

        After a 250 this also waits until the receiver's first local delivery attempt is over
        (``seconds`` still counts only up to the reply).
        """
        before = len(self.receiver.data_log)
        accepted = len(self.receiver.accepted)
        t0 = time.monotonic()
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname="mta.sender.test", timeout=600) as smtp:
            try:
                smtp.sendmail(MAIL_FROM, [RCPT_TO], sample_message(subject))
                reply = self.receiver.data_log[before].reply or ""  # smtplib keeps no 250 text
            except smtplib.SMTPDataError as exc:
                reply = f"{exc.smtp_code} {exc.smtp_error.decode()}"
        seconds = time.monotonic() - t0
        record = self.receiver.data_log[before] if len(self.receiver.data_log) > before else None
        requests = record.store["requests"] if record and record.store else []
        self._call(self._first_attempts(accepted))
        return LiveReply(reply, seconds, requests)

    def _attempted(self, acc) -> bool:
        """True once the queue has tried to deliver ``acc`` locally at least once (or is done with it)."""
        queue_id = f"{acc.queue_id:x}"
        return (acc.mailbox_at is not None or acc.bounced_at is not None
                or any(entry["queue_id"] == queue_id for entry in self.receiver.local))

    async def _first_attempts(self, start: int) -> None:
        """Wait until every copy accepted since ``start`` had its first local delivery attempt."""
        while not all(self._attempted(acc) for acc in self.receiver.accepted[start:]):
            await asyncio.sleep(0.002)

    async def _flush(self) -> None:
        """Run the queue now for every accepted copy not yet in the mailbox (Stalwart keeps the entry)."""
        for task in list(self.receiver.background):
            task.cancel()  # a local delivery asleep until its next retry
        await asyncio.gather(*self.receiver.background, return_exceptions=True)
        for acc in self.receiver.accepted:
            if acc.mailbox_at is None and acc.bounced_at is None:
                trace = await self.receiver.store.aget(acc.key, self.receiver.clock)
                if trace.outcome == "found":
                    acc.mailbox_at = self.receiver.clock.now()
                    self.receiver.local.append({"t": round(acc.mailbox_at, 6), "queue_id": f"{acc.queue_id:x}",
                                                "result": "delivered"})

    @property
    def undelivered(self) -> list:
        """Copies answered 250 that are not in the mailbox yet (still in the receiver's queue)."""
        return [a for a in self.receiver.accepted if a.mailbox_at is None and a.bounced_at is None]

    def close(self) -> None:
        """Plug S3 back in, deliver what the queue still holds, then stop the receiver, its loop and S3."""
        async def _stop():
            await self.receiver.stop()
            await asyncio.gather(*self.receiver.inflight, return_exceptions=True)
            await self._flush()
            # on the loop's own thread: a notebook's main thread already runs a loop of its own
            await asyncio.get_running_loop().shutdown_default_executor()

        try:
            if not self.s3.plugged:
                self.s3.plug()
            self._call(_stop(), timeout=60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()
            self.s3.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
