"""The fleet's compact records read back exactly as the objects they replace (issue #21's memory).

:class:`blobedu.fleet.results.SessionRows` keeps each session a sender is done with as a row of
typed arrays, chained message by message; :class:`~blobedu.fleet.results.Message` keeps its one
copy that was in S3 and the mailbox at once as a time.  For random interleavings of sessions
(replies of every kind, Stalwart's 250 with and without its queue id, answers that come after the
sender gave up, sessions still under way at the end) the rows must give back every session as it
was, in each message's order, and the copies must read as the :class:`Copy` they stand for.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from blobedu.fleet import Fleet, FleetConfig
from blobedu.fleet.results import Copy, Message, Session, SessionRows
from blobedu.fleet.s3 import IN_S3
from blobedu.versions import QUEUED_FOR_DELIVERY, QUEUED_WITH_ID

TEMPFAIL = "451 4.3.5 Unable to accept message at this time."
times = st.floats(min_value=0, max_value=1e7, allow_nan=False)
texts = st.sampled_from([TEMPFAIL, "452 4.3.1 Mailbox full", "554 5.0.0 no", "250 2.0.0 Message queued with id zz.",
                         "250 2.0.0 Message queued with id 0.", "250 2.0.0 Message queued with id 00ff.", ""])


@st.composite
def session(draw, template: str):
    """A session as the engine leaves it when its sender is done with it (or at the end, still under way)."""
    s = Session(draw(times), draw(times))
    kind = draw(st.sampled_from(["answered", "queued", "refused", "timeout", "late", "dropped", "open"]))
    if kind == "open":  # still under way at the end: no reply yet
        return s
    if kind in ("refused", "timeout", "dropped", "late"):
        s.reply, s.ended = {"late": "timeout"}.get(kind, kind), draw(times)
    if kind == "late":  # answered after the sender gave up: written again at the end
        s.receiver_reply, s.receiver_replied_at = draw(texts), draw(times)
    if kind == "answered":
        s.reply = s.receiver_reply = draw(texts)
        s.ended = s.receiver_replied_at = draw(times)
    if kind == "queued":
        q = draw(st.integers(1, 2**32 - 1))
        s.reply = s.receiver_reply = template.format(queue_id=q)
        s.ended = s.receiver_replied_at = draw(times)
        if draw(st.booleans()):
            s.queue_id = q  # where the fast path wrote it
    return s


def fields(s: Session) -> tuple:
    return (s.t, s.deadline, s.reply, s.ended, s.receiver_reply, s.receiver_replied_at)


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(data=st.data(), template=st.sampled_from([QUEUED_WITH_ID, QUEUED_FOR_DELIVERY]),
       messages=st.integers(1, 5))
def test_rows_give_back_every_session_in_order(data, template, messages):
    rows = SessionRows(messages, template)
    msgs = [Message(i, "postfix", 0.0, rows) for i in range(messages)]
    expected = {i: [] for i in range(messages)}
    late = []
    for _ in range(data.draw(st.integers(0, 30))):
        i = data.draw(st.integers(0, messages - 1))
        m = msgs[i]
        if m._session is not None:
            continue
        s = data.draw(session(template))
        if s.reply is None:  # under way: the run ends with it open
            m._session = s
        else:
            rows.add(i, s)
            if s.receiver_reply is not None and s.reply == "timeout":
                late.append(s)
        expected[i].append(s)
    # an answer that lands after the row was written: only the end's finish() sees it
    for s in data.draw(st.lists(st.sampled_from([s for v in expected.values() for s in v if s.reply == "timeout"]
                                                or [None]), max_size=3)):
        if s is not None and s.receiver_reply is None:
            s.receiver_reply, s.receiver_replied_at = TEMPFAIL, s.ended
    expect = {i: [fields(s) for s in v] for i, v in expected.items()}
    rows.finish(msgs)
    for i, m in enumerate(msgs):
        assert [fields(s) for s in m.sessions] == expect[i]
        assert m.session_count == len(expect[i])
        assert m._session is None


def test_a_copy_kept_as_a_time_reads_as_its_copy_and_takes_more():
    m = Message(0, "stalwart", 0.0)
    assert m.copy_count == 0
    m._copies = 12.5
    assert m.copy_count == 1
    m.settle()
    assert (m.fate, m.delivered_at) == ("delivered", 12.5)
    (c,) = m.copies
    assert (c.t, c.durable_at, c.mailbox_at, c.bounced_at, c.lost_at, c.in_spool, c.told, c.blob) == (
        12.5, 12.5, 12.5, None, None, False, True, IN_S3)
    m.copies.append(Copy(20.0))  # a duplicate: the list read is the one kept
    assert m.copy_count == 2 and m.copies[0] is c


def test_a_crash_leaves_copies_kept_as_times_alone():
    """A copy kept as a time was never spooled: a crash's replay skips it without making it a Copy."""
    result = Fleet(["refused@1h-2h", "crash@10800.37"], FleetConfig(messages=200, over=6 * 3600.0)).run()
    kept = [m for m in result.detail if m._copies.__class__ is float]
    assert kept, "the fast path keeps copies as times"
    assert all(m.fate == "delivered" for m in kept)
    assert result.copies == sum(len(m.copies) for m in result.detail)


def test_rows_number_as_many_distinct_replies_as_there_are_copies():
    """Other designs' 250s carry their own ids: one distinct text a copy, more than 16 bits can number."""
    rows = SessionRows(70_000, QUEUED_WITH_ID)
    msgs = [Message(i, "postfix", 0.0, rows) for i in range(70_000)]
    for m in msgs:
        s = Session(1.0, 2.0)
        s.reply = s.receiver_reply = f"250 2.0.0 Ok: queued as {m.index:08X}"
        s.ended = s.receiver_replied_at = 1.5
        rows.add(m.index, s)
    rows.finish(msgs)
    assert [s.reply for s in msgs[-1].sessions] == ["250 2.0.0 Ok: queued as 0001116F"]
    assert len(rows.texts) == 70_002  # no reply, the template, and one a copy


@given(st.lists(st.tuples(st.integers(0, 50), st.booleans()), max_size=60))
@settings(max_examples=200, deadline=None)
def test_a_levels_steps_net_each_instant_against_a_plain_count(moves):
    """``_steps`` against a dictionary count: one step per distinct time, the level after it.

    The moves are drawn so that the level never goes below 0 (a step down only when something is
    held), at times that never go back, with repeats (changes at one instant are netted).
    """
    from blobedu.fleet.results import _Log, _steps

    log, level, t, expected = _Log(), 0, 0.0, {}
    for gap, up in moves:
        t += gap / 10
        delta = 1 if up or level == 0 else -1
        level += delta
        log.add(t, delta)
        expected[t] = level
    times, totals = _steps(log)
    assert list(times) == list(expected) and list(totals) == list(expected.values())
