"""The live demo keeps every message it answered 250, cycle after cycle, without growing.

The cycle is the one a reader runs in notebook 00 (create, send, unplug, send, plug, send,
close), 200 times.  It runs Stalwart 0.15.5: that version has no hidden rust-s3 transport retry,
so the unplugged send gets its 451 at once instead of after 1 s of real sleep; what this tests (the
queue's local delivery after a 250) is the same on every version.

Everything runs on the wall clock, so the request timeout is Stalwart's default 30 s, not a short
one: no request here is meant to time out (an unplugged S3 refuses at once), and on a busy machine
a short timeout turned a slow but answered PUT into a 451.
"""

from __future__ import annotations

import gc
import logging

import botocore.exceptions
import pytest

from blobedu.endpoint import LoopbackEndpoint, _call
from blobedu.live import LiveDemo
from blobedu.store import StoreConfig

CYCLES = 200
CONFIG = StoreConfig(version="0.15.5")  # timeout: Stalwart's default, 30 s
TIMEOUT = 30.0  # seconds, for the single requests below: far above any answer on loopback


def test_every_250_reaches_the_mailbox_over_200_cycles(caplog):
    psutil = pytest.importorskip("psutil")
    caplog.set_level(logging.ERROR, logger="asyncio")
    process = psutil.Process()
    rss = {}
    for cycle in range(1, CYCLES + 1):
        with LiveDemo(CONFIG) as demo:
            replies = [demo.send("up").reply]
            demo.unplug()
            replies.append(demo.send("down").reply)
            demo.plug()
            replies.append(demo.send("back").reply)
        assert [r[:3] for r in replies] == ["250", "451", "250"], (cycle, replies)
        accepted = demo.receiver.accepted
        assert len(accepted) == 2, cycle
        assert [a.mailbox_at is not None for a in accepted] == [True, True], (cycle, demo.receiver.local)
        assert demo.undelivered == []
        if cycle in (20, CYCLES):
            gc.collect()
            rss[cycle] = process.memory_info().rss
    # a background task that died would have been logged: "Task exception was never retrieved"
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
    # before the fix every cycle kept ~3 MB (each boto3 client parsed its own copy of the S3 model)
    assert rss[CYCLES] - rss[20] < 25 * 2**20, (rss[20] / 2**20, rss[CYCLES] / 2**20)


def test_a_connection_closed_mid_request_is_a_transport_error_not_an_exception():
    with LoopbackEndpoint() as ep:
        client = ep._client_for(ep.url, 1.0)

        def closed(request, **_kwargs):
            raise botocore.exceptions.ConnectionClosedError(endpoint_url=request.url)

        client.meta.events.register_first("before-send.s3", closed)
        try:
            reply = _call(client, "GET", ep.bucket, "some-key", b"")
        finally:
            client.meta.events.unregister("before-send.s3", closed)
        assert reply.error == "refused"


def test_unplug_drops_kept_alive_connections():
    """An unplugged S3 answers nothing, not even on a connection kept alive from before."""
    with LoopbackEndpoint() as ep:
        assert ep.send("PUT", "k", b"x", timeout=TIMEOUT, real_time=True)[0].status == 200
        ep.unplug()
        # refused, not a "timeout" on a connection kept alive from before
        assert ep.send("GET", "k", timeout=TIMEOUT, real_time=True)[0].error == "refused"
        ep.plug()
        assert ep.send("GET", "k", timeout=TIMEOUT, real_time=True)[0].status == 200


def test_close_delivers_what_the_queue_still_holds():
    """A copy whose local delivery failed waits for the queue's next retry (2 min); close() delivers it now."""
    from blobedu.policy import Reply

    demo = LiveDemo(CONFIG)
    real_send = demo.s3.send
    failed = []

    def first_get_fails(method, *args, **kwargs):
        if method == "GET" and not failed:
            failed.append(method)
            return Reply(error="refused"), 0.0  # as if S3 went away during the read
        return real_send(method, *args, **kwargs)

    demo.s3.send = first_get_fails
    try:
        assert demo.send("one").reply.startswith("250")
        assert [e["result"] for e in demo.receiver.local] == ["Temporary I/O error."]
        assert len(demo.undelivered) == 1  # queued, asleep until its next retry
    finally:
        demo.close()
    assert demo.undelivered == []
    assert [e["result"] for e in demo.receiver.local] == ["Temporary I/O error.", "delivered"]


def test_the_cycle_runs_where_a_loop_already_runs():
    """A notebook kernel runs an asyncio loop in its main thread; create, send and close must still work."""
    import asyncio

    async def in_a_kernel():
        with LiveDemo(CONFIG) as demo:
            first = demo.send("up").reply
            demo.unplug()
            second = demo.send("down").reply
        return first[:3], second[:3], demo.undelivered

    assert asyncio.run(in_a_kernel()) == ("250", "451", [])
