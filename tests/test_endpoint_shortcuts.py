"""The in-process endpoint's two shortcuts give exactly what the long way gives (benchmarks/redraw.py).

* A refused or silent request never leaves, so :meth:`InProcessEndpoint.send` answers it without
  building and signing it through botocore; the long way (the ``before-send`` hook raising, ``_call``
  translating) must give the very same reply.
* :meth:`InProcessEndpoint.exists` answers "no" without a HEAD for a key no PUT ever carried to moto;
  for every other key it reads moto.  Generated sequences of PUTs, faults and DELETEs must leave
  ``exists`` agreeing with a HEAD and with the bucket's own listing.
* :meth:`InProcessEndpoint.reset` deletes the keys PUTs carried to moto without listing the bucket;
  after the same sequences the bucket's own listing must be empty.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from blobedu.endpoint import InProcessEndpoint, _call
from blobedu.faults import parse


def test_a_refused_or_silent_request_gets_the_reply_the_long_way_gives(endpoint):
    for kind in ("refused", "timeout"):
        fault = parse(f"{kind}@0")
        for method in ("PUT", "HEAD", "GET", "DELETE"):
            short, _ = endpoint.send(method, "k", b"x", fault)
            endpoint._fault = fault  # the long way: through botocore and the before-send hook
            try:
                long = _call(endpoint._client, method, endpoint.bucket, "k", b"x")
            finally:
                endpoint._fault = None
            assert short == long, (kind, method, short, long)
    assert "k" not in endpoint.keys() and not endpoint.exists("k")


_steps = st.lists(st.tuples(st.sampled_from(["PUT", "DELETE"]), st.sampled_from(["a", "b", "c"]),
                            st.sampled_from([None, "refused@0", "timeout@0", "503@0", "lost-write@0", "403@0"])),
                  max_size=12)


@settings(max_examples=40)
@given(steps=_steps)
def test_exists_agrees_with_a_head_and_the_listing(endpoint, steps):
    endpoint.reset()
    for method, key, fault in steps:
        endpoint.send(method, key, b"body " + key.encode(), parse(fault) if fault else None)
    listed = set(endpoint.keys())
    for key in ("a", "b", "c"):
        head = _call(endpoint._client, "HEAD", endpoint.bucket, key, b"").status == 200
        assert endpoint.exists(key) == head == (key in listed), (key, steps)
    endpoint.reset()  # deletes what the PUTs stored, without listing: the bucket must be empty after it
    assert endpoint.keys() == [] and not any(endpoint.exists(key) for key in ("a", "b", "c")), steps


def test_reset_forgets_what_was_stored():
    ep = InProcessEndpoint()
    try:
        ep.send("PUT", "a", b"x")
        assert ep.exists("a")
        ep.reset()
        assert not ep.exists("a") and ep.keys() == []
    finally:
        ep.close()
