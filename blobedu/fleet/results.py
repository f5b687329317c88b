"""What happened: each message, session and copy, the level logs, and the summary of a run."""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from ..durations import format_duration
from .s3 import IN_S3

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Fleet

# -- what happened to each message ----------------------------------------------------------------------
class Session:
    """One SMTP attempt as the sender saw it (``reply``: the final-dot reply, ``timeout`` or ``dropped``)."""

    __slots__ = ("t", "deadline", "reply", "ended", "receiver_reply", "receiver_replied_at", "waiting", "queue_id")

    def __init__(self, t: float, deadline: float) -> None:
        self.t, self.deadline = t, deadline
        self.queue_id = 0  # the queue id in the receiver's 250, where the fast path wrote it (SessionRows)
        self.reply: Optional[str] = None
        self.ended: Optional[float] = None
        self.receiver_reply: Optional[str] = None
        self.receiver_replied_at: Optional[float] = None
        self.waiting = None  # the sender's process, while it waits for this reply


class Copy:
    """One copy the receiver accepted with a 250, and what became of it (as :class:`receiver.Acceptance`)."""

    __slots__ = ("t", "durable_at", "mailbox_at", "bounced_at", "lost_at", "in_spool", "upload", "told", "blob")

    def __init__(self, t: float) -> None:
        self.t = t
        self.told = True  # whether its bounce, if it bounced, can reach the author (bounces.told)
        self.durable_at: Optional[float] = None
        self.mailbox_at: Optional[float] = None
        self.bounced_at: Optional[float] = None
        self.lost_at: Optional[float] = None
        self.in_spool = False
        self.upload = None
        self.blob = None  # this copy's own blob in S3 (each accepted attempt stores a different one)

    @property
    def pending(self) -> bool:
        """Neither in the mailbox, bounced, nor lost yet."""
        return self.mailbox_at is None and self.bounced_at is None and self.lost_at is None


class Message:
    """One message: who sent it when, its sessions, the copies accepted, and its fate once the run ends.

    At a provider's scale (issue #21: a million messages) its records are kept compactly, and
    :attr:`sessions` and :attr:`copies` read the same as plain lists:

    * ``_session`` is the :class:`Session` under way, if one is; the sessions the sender is done
      with are rows of the run's :class:`SessionRows`, ``_rows``, and each read of
      :attr:`sessions` builds them afresh.
    * ``_copies`` is None (no copy yet), the list of :class:`Copy` objects, or, for the common one
      copy that was in S3 and in the mailbox the instant it was accepted (the fast path's), the
      float time it was accepted.  :attr:`copies` turns it into the list when first read, so that
      the engine's code that appends to it or changes a copy works on the real thing.
    """

    __slots__ = ("index", "sender", "arrival", "_session", "_rows", "_copies", "in_s3", "released_at",
                 "sender_bounced", "open_dots", "fate", "delivered_at", "server")

    def __init__(self, index: int, sender: str, arrival: float, rows: Optional["SessionRows"] = None) -> None:
        self.index, self.sender, self.arrival = index, sender, arrival
        self._session: Optional[Session] = None
        self._rows = rows
        self._copies: Any = None
        self.in_s3 = False  # whether a blob of one of its copies reached S3 (each attempt's blob is its own)
        self.released_at: Optional[float] = None  # when the sender let go (250 received, or bounced)
        self.sender_bounced = False
        self.open_dots = 0  # final-dot store loops still running at the receiver
        self.fate = ""
        self.delivered_at: Optional[float] = None
        self.server = None  # its SendingServer, with real senders

    @property
    def sessions(self) -> list[Session]:
        """Its SMTP sessions, in order (a new list at each read)."""
        out = self._rows.sessions(self.index) if self._rows is not None else []
        if self._session is not None:
            out.append(self._session)
        return out

    @property
    def session_count(self) -> int:
        return (self._rows.count[self.index] if self._rows is not None else 0) + (self._session is not None)

    @property
    def copies(self) -> list[Copy]:
        """The copies the receiver accepted, in order (the list itself: the engine appends to it)."""
        kept = self._copies
        if kept.__class__ is list:
            return kept
        self._copies = copies = [] if kept is None else [_at_once(kept)]
        return copies

    @property
    def copy_objects(self) -> "list[Copy] | tuple[()]":
        """The :class:`Copy` objects it holds, without making the one kept as a time (never spooled, never pending)."""
        kept = self._copies
        return kept if kept.__class__ is list else ()

    @property
    def copy_count(self) -> int:
        kept = self._copies
        return 0 if kept is None else 1 if kept.__class__ is float else len(kept)

    def settle(self) -> None:
        """The message's fate, by :func:`delivery._collect`'s rules, plus ``queued`` for unfinished business."""
        kept = self._copies
        if kept.__class__ is float:  # one copy, in S3 and the mailbox at once (durable_at = mailbox_at = t)
            self.fate, self.delivered_at = "delivered", kept
            return
        copies = self.copy_objects
        delivered = [c for c in copies if c.mailbox_at is not None]
        if delivered:
            self.fate = "delivered"
            self.delivered_at = min(c.durable_at if c.durable_at is not None else c.mailbox_at for c in delivered)
        elif self.sender_bounced or any(c.bounced_at is not None and c.told for c in copies):
            self.fate = "bounced"  # the author was told
        elif self.released_at is None or self.open_dots or any(c.pending for c in copies):
            self.fate = "queued"
        else:
            self.fate = "lost"


def _at_once(t: float) -> Copy:
    """The copy ``Message._copies`` keeps as its time: accepted at ``t``, in S3 and in the mailbox then."""
    copy = Copy(t)
    copy.blob = IN_S3
    copy.durable_at = copy.mailbox_at = t
    return copy


_NONE = float("nan")  # a time not set (None), in a typed array


class SessionRows:
    """The sessions senders are done with, as rows of typed arrays, each naming its message.

    A :class:`Session` object costs about 120 bytes with its deadline, and a message in a long
    outage holds many; a row costs 36 bytes, and a message holds none while it waits.  Each row
    names its message (``owner``); a message's rows, in the order they were added (the order of its
    sessions), are found when first asked for, by a stable sort of the owners (:meth:`_index`):
    appending a row costs no bookkeeping per message (a chain cost five more array reads and
    writes a row, a few per cent of a large run).
    Replies are numbered in ``texts``; Stalwart's 250 with its queue id (unique to each copy) is
    kept as the template's number and the id.  Most sessions end with the receiver's own reply,
    heard the instant it was given: their receiver's reply and its time are the row's reply and
    end.  The others (a timeout, a refused connection, an answer after the sender gave up) keep
    them in three more columns, ``other_row``, ``other_reply`` and ``other_at`` (16 bytes; a
    later entry for a row replaces an earlier one).  A row the receiver may still answer (a session
    the sender gave up on) is written again from its session at the end (:meth:`finish`).
    """

    __slots__ = ("t", "deadline", "ended", "reply", "queue_id", "owner", "other_row", "other_reply", "other_at",
                 "_other_for", "_other_keys", "_other_pos", "messages",
                 "texts", "numbers", "queued", "queued_head", "queued_tail", "pending", "_counted", "_count",
                 "_indexed", "_order", "_starts")

    def __init__(self, messages: int, queued_template: str) -> None:
        self.t, self.deadline, self.ended = array("d"), array("d"), array("d")
        # replies as numbers into texts: 4 bytes, since other designs' 250s carry their own ids (one text a copy)
        self.reply, self.queue_id, self.owner = array("I"), array("I"), array("I")
        # for the rows whose sender did not hear the receiver's reply the instant it was given: the row,
        # its receiver's reply number, and when the receiver replied (NaN: never)
        self.other_row, self.other_reply, self.other_at = array("I"), array("I"), array("d")
        self._other_for = -1  # how many entries the lookup (_other_keys, _other_pos) was made for
        self._other_keys: Any = None
        self._other_pos: Any = None
        self.messages = messages
        self._counted = self._indexed = -1  # how many rows the counts, and the index, were made for
        self._count: Any = None
        self._order: Any = None
        self._starts: Any = None
        self.texts: list[Optional[str]] = [None]  # number 0: no reply
        self.numbers: dict[Optional[str], int] = {None: 0}
        head, _, tail = queued_template.partition("{queue_id:x}")
        self.queued = None if not _ else self._number(queued_template)
        self.queued_head, self.queued_tail = head, tail
        self.pending: list[tuple[int, Session]] = []

    def _number(self, text: Optional[str]) -> int:
        n = self.numbers.get(text)
        if n is None:
            if len(self.texts) >= 2**32 - 1:
                raise OverflowError("more distinct replies than a row can number")
            n = self.numbers[text] = len(self.texts)
            self.texts.append(text)
        return n

    def _code(self, text: Optional[str]) -> tuple[int, int]:
        """A reply's number and queue id (0 when it has none)."""
        n = self.numbers.get(text)
        if n is not None:
            return n, 0
        head, tail = self.queued_head, self.queued_tail
        if self.queued is not None and text.startswith(head) and text.endswith(tail):
            digits = text[len(head):len(text) - len(tail)]
            try:
                queue_id = int(digits, 16)
            except ValueError:
                queue_id = -1
            if 0 < queue_id < 2**32 and f"{queue_id:x}" == digits:
                return self.queued, queue_id
        return self._number(text), 0

    def _codes(self, s: Session) -> tuple[int, int, int]:
        """The numbers of ``s``'s reply and its receiver's, and the queue id."""
        numbers, queued = self.numbers, self.queued
        r, rr, q = s.reply, s.receiver_reply, s.queue_id
        if q and queued is not None:  # the receiver's 250 with this queue id (set where it was written)
            rn = queued
        else:
            q = 0
            rn = numbers.get(rr)
            if rn is None:
                rn, q = self._code(rr)
        if r is rr:
            return rn, rn, q
        n = numbers.get(r)  # the sender's own ("timeout", "refused", "dropped")
        if n is None:
            n, q2 = self._code(r)
            q = q or q2
        return n, rn, q

    def add(self, index: int, s: Session) -> None:
        """A row for message ``index``'s session ``s``, after its others."""
        t = self.t
        row = len(t)
        if row >= 2**32 - 1:
            raise OverflowError("more sessions than the rows can number")
        t.append(s.t)
        self.deadline.append(s.deadline)
        ended = s.ended
        self.ended.append(_NONE if ended is None else ended)
        r, q = s.reply, s.queue_id
        if r is s.receiver_reply and s.receiver_replied_at == ended:  # the receiver's reply, heard at once
            if q and self.queued is not None:  # the fast path's 250 (most rows; _codes, inline)
                n = self.queued
            else:
                n = self.numbers.get(r)  # a reply already numbered (a 451), with no queue id
                q = 0
                if n is None:
                    n, _, q = self._codes(s)
            self.reply.append(n)
        else:
            n, q = self._other(row, s)
            self.reply.append(n)
        self.queue_id.append(q)
        self.owner.append(index)
        if s.receiver_reply is None and r != "refused":  # the receiver may still answer it
            self.pending.append((row, s))

    def finish(self, messages) -> None:
        """At the run's end: rows for the sessions still under way, and the answers that came late."""
        for m in messages:
            s = m._session
            if s is not None:
                self.add(m.index, s)
                m._session = None
        for row, s in self.pending:
            ended = s.ended
            self.ended[row] = _NONE if ended is None else ended
            self.reply[row], self.queue_id[row] = self._other(row, s, again=True)
        self.pending = []

    def _other(self, row: int, s: Session, again: bool = False) -> tuple[int, int]:
        """``s``'s reply number and queue id; its receiver's reply and time are kept as an entry unless they are the row's own.

        ``again``: the row is written again, so an entry is always made (it replaces any earlier one).
        """
        n, rn, q = self._codes(s)
        at = s.receiver_replied_at
        if again or rn != n or at != s.ended:
            self.other_row.append(row)
            self.other_reply.append(rn)
            self.other_at.append(_NONE if at is None else at)
        return n, q

    def _others(self) -> tuple:
        """The rows with an entry, sorted, and where each one's last entry is."""
        if self._other_for != len(self.other_row):
            import numpy as np

            rows = np.frombuffer(self.other_row, dtype=np.uint32)
            order = np.argsort(rows, kind="stable")
            keys = rows[order]
            last = np.ones(len(keys), dtype=bool)
            last[:-1] = keys[1:] != keys[:-1]  # a row's last entry (the stable sort keeps their order)
            self._other_keys, self._other_pos = keys[last], order[last]
            self._other_for = len(self.other_row)
        return self._other_keys, self._other_pos

    def _text(self, n: int, queue_id: int) -> Optional[str]:
        if n == self.queued and queue_id:
            return f"{self.queued_head}{queue_id:x}{self.queued_tail}"
        return self.texts[n]

    @property
    def count(self) -> array:
        """How many rows each message has (indexed by message)."""
        if self._counted != len(self.t):
            import numpy as np

            counts = np.bincount(np.frombuffer(self.owner, dtype=np.uint32), minlength=self.messages)
            self._count = array("I", counts.astype(np.uint32).tobytes())
            self._counted = len(self.t)
        return self._count

    def _index(self) -> tuple:
        """The rows in message order, each message's in the order they were added, and where each message's start."""
        if self._indexed != len(self.t):
            import numpy as np

            owner = np.frombuffer(self.owner, dtype=np.uint32)
            self._order = np.argsort(owner, kind="stable").astype(np.uint32)
            counts = np.frombuffer(self.count, dtype=np.uint32)
            self._starts = np.concatenate(([0], np.cumsum(counts, dtype=np.int64)[:-1]))
            self._indexed = len(self.t)
        return self._order, self._starts

    def sessions(self, index: int) -> list[Session]:
        """Message ``index``'s sessions, built from its rows."""
        out = []
        count = self.count[index]
        if not count:
            return out
        import numpy as np

        order, starts = self._index()
        start = int(starts[index])
        rows = order[start:start + count]
        keys, pos = self._others()
        found = np.minimum(np.searchsorted(keys, rows), max(len(keys) - 1, 0))
        entries = [int(pos[k]) if len(keys) and keys[k] == row else -1 for row, k in zip(rows.tolist(), found.tolist())]
        for row, entry in zip(rows.tolist(), entries):
            s = Session(self.t[row], self.deadline[row])
            q = self.queue_id[row]
            n, ended = self.reply[row], self.ended[row]
            rn, at = (self.other_reply[entry], self.other_at[entry]) if entry >= 0 else (n, ended)
            s.reply = self._text(n, q)
            s.receiver_reply = self._text(rn, q)
            s.ended = None if ended != ended else ended
            s.receiver_replied_at = None if at != at else at
            out.append(s)
        return out


class _Log:
    """Changes of one level over time, by one over time, as they happen: 8 bytes a change.

    ``changes`` holds each change's time, negated for a step down (``-t``, ``-0.0`` at 0: the sign
    bit tells): one append a change where a time and a delta were two.  The kernel's clock never
    goes below 0, so every time is at least 0.
    """

    __slots__ = ("changes",)

    def __init__(self) -> None:
        self.changes = array("d")

    def add(self, t: float, delta: int) -> None:
        """Record a change of ``delta`` (1 or -1) at ``t`` (never earlier than the last one)."""
        if delta == 1:
            self.changes.append(t)
        elif delta == -1:
            self.changes.append(-t)
        else:
            raise ValueError(f"a level changes by 1 or -1, not {delta!r}")

    @property
    def times(self) -> list[float]:
        """The time of each change, in order (for reading; :func:`_steps` reads ``changes`` itself)."""
        return [abs(t) for t in self.changes]

    @property
    def deltas(self) -> list[int]:
        """Each change, 1 or -1, in order."""
        return [-1 if math.copysign(1.0, t) < 0 else 1 for t in self.changes]

    def __len__(self) -> int:
        return len(self.changes)



# -- results ---------------------------------------------------------------------------------------------
def _percentiles(values: list[float]) -> dict[str, Optional[float]]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    import numpy as np

    a = np.asarray(values, dtype=float)
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {"p50": round(float(p50), 3), "p90": round(float(p90), 3), "p99": round(float(p99), 3),
            "max": round(float(a.max()), 3)}


def _steps(log: _Log):
    """``(times, levels)``: the running total of ``log`` after the last change at each distinct time.

    Changes at one instant are netted first: a message held for zero seconds (a 250 at once) was
    never held, and must not show as one.  An empty log has no steps: two empty arrays.
    """
    import numpy as np

    signed = np.frombuffer(log.changes, dtype=float)  # each change's time, negated for a step down
    if not len(signed):
        return signed.copy(), np.zeros(0, dtype=np.int32)
    totals = np.cumsum(np.where(np.signbit(signed), np.int8(-1), np.int8(1)), dtype=np.int32)  # at most the messages
    last = np.empty(len(signed), dtype=bool)  # the last change at its time
    last[-1] = True
    for i in range(0, len(signed) - 1, _CHUNK):  # the times in chunks: a million messages' logs are large
        times = np.abs(signed[i:i + _CHUNK + 1])
        last[i:i + len(times) - 1] = times[1:] != times[:-1]
    if last.all():  # no two changes at one instant
        return np.abs(signed), totals
    times = signed[last]  # a copy, made positive in place
    return np.abs(times, out=times), totals[last]


def _level(log: _Log, grid, step: float, steps: Optional[tuple] = None) -> "Any":
    """The highest running total of ``log`` in each step ``[t, t + step)`` of the grid.

    The highest, not the value at ``t``: a burst of one-second sessions between two samples must
    still show, and it is what memory has to hold.  ``steps``: :func:`_steps`' answer, if already read.
    """
    import numpy as np

    if not log:
        return np.zeros(len(grid), dtype=np.int64)
    times, totals = steps or _steps(log)
    idx = np.searchsorted(times, grid, side="right") - 1
    level = np.where(idx >= 0, totals[np.maximum(idx, 0)], 0)  # carried into each step
    highest = np.zeros(len(grid), dtype=np.int64)
    for i in range(0, len(times), _CHUNK):  # in chunks: a million messages' logs hold millions of changes
        bins = np.minimum((times[i:i + _CHUNK] / step).astype(np.int64), len(grid) - 1)
        # the times are sorted, so each step's changes are one run of bins: its highest by reduceat
        # (np.maximum.at, the same for any order, was a tenth of building a million messages' result)
        firsts = np.flatnonzero(np.concatenate(([True], bins[1:] != bins[:-1])))
        runs = np.maximum.reduceat(totals[i:i + _CHUNK], firsts)
        np.maximum.at(highest, bins[firsts], runs)  # a step whose changes straddle two chunks
    return np.maximum(level, highest)


_CHUNK = 1 << 18  # changes binned at once by _level


def _mean_level(log: _Log, grid, step: float, steps: Optional[tuple] = None) -> "Any":
    """The time average of ``log``'s running total over each step ``[t, t + step)`` of the grid.

    Beside :func:`_level`'s highest: the highest overstates the average (by about 2 % on a day's
    backlog), and only the average integrates to the total holding time (Little's law).
    """
    import numpy as np

    if not log:
        return np.zeros(len(grid))
    times, totals = steps or _steps(log)
    area = np.concatenate(([0.0], np.cumsum(totals[:-1] * np.diff(times))))  # the integral up to each change

    def integral(t):
        k = np.searchsorted(times, t, side="right") - 1
        inside = k >= 0
        kk = np.maximum(k, 0)
        return np.where(inside, area[kk] + totals[kk] * (t - times[kk]), 0.0)

    return (integral(grid + step) - integral(grid)) / step


def _peak(log: _Log, steps: Optional[tuple] = None) -> int:
    return int(max(0, (steps or _steps(log))[1].max())) if log else 0


def _read(log: _Log, grid, step: float, mean: bool = False) -> tuple:
    """``log``'s highest level in each step, its time average in each step (None unless ``mean``), and its peak.

    Its steps (:func:`_steps`) are worked out once for the three.
    """
    steps = _steps(log) if log else None
    return (_level(log, grid, step, steps), _mean_level(log, grid, step, steps) if mean else None,
            _peak(log, steps))


@dataclass
class FleetResult:
    """What a fleet run produced: fates, copies, delays, load, and series on a fixed grid."""

    config: dict[str, Any]
    faults: list[str]
    s3_windows: list[tuple[str, float, Optional[float]]]
    messages: int
    fates: dict[str, int]
    copies: int
    duplicates: int
    delay: dict[str, Optional[float]]
    smtp_sessions: int
    sessions_peak: int
    sessions_refused: int
    sending_servers: int
    s3_requests: int
    s3_slowdowns: int
    peaks: dict[str, float]
    drain: dict[str, Optional[float]]
    ended: float
    series: dict[str, list]
    wall_seconds: float
    detail: list[Message] = field(default_factory=list, repr=False)
    #: per second for :data:`RECOVERY_SECONDS` after S3's last change: requests sent, and of them 503 SlowDown
    recovery: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, fleet: Fleet) -> "FleetResult":
        """Summarise a finished :class:`Fleet`."""
        import numpy as np

        msgs = fleet.messages
        fates = {"delivered": 0, "bounced": 0, "lost": 0, "queued": 0}
        # one pass over the messages (a million of them at a provider's scale): fates, copies,
        # duplicates and delays, with Message.copy_count inline
        copies = duplicates = 0
        delays = []
        for m in msgs:
            fates[m.fate] += 1
            kept = m._copies
            if kept is not None:
                if kept.__class__ is float:
                    copies += 1
                else:
                    n_copies = len(kept)
                    copies += n_copies
                    if n_copies > 1:
                        duplicates += n_copies - 1
            if m.delivered_at is not None:
                delays.append(m.delivered_at - m.arrival)
        # every session is a row of the fleet's SessionRows by now: SessionRows.finish made rows of
        # those still under way at the end (Fleet._run calls it before this)
        smtp_sessions = len(fleet.session_rows.t)
        size = fleet.config.size
        span = max(fleet.ended, fleet.config.over, 1.0)
        n = fleet.config.samples
        grid = np.linspace(0.0, span, n)
        step = span / (n - 1)
        requests = np.frombuffer(fleet.request_times, dtype=float)
        counts = np.histogram(requests, bins=np.append(grid, span + step))[0] if len(requests) else np.zeros(n)
        if len(requests):
            per_second = np.bincount(requests.astype(np.int64))  # requests in each whole second (times >= 0: floor)
            starts = np.minimum(np.floor(grid).astype(np.int64), len(per_second) - 1)
            peak_rate = np.maximum.reduceat(per_second, starts)
            peak_rate = np.where(np.floor(grid) < len(per_second), peak_rate, 0)
        else:
            peak_rate = np.zeros(n, dtype=np.int64)
        slow = np.frombuffer(fleet.slowdown_times, dtype=float)
        if len(slow):  # 503 SlowDown answers in the busiest second of each step, on their own series
            slow_second = np.bincount(slow.astype(np.int64))
            starts = np.minimum(np.floor(grid).astype(np.int64), len(slow_second) - 1)
            peak_slow = np.where(np.floor(grid) < len(slow_second), np.maximum.reduceat(slow_second, starts), 0)
        else:
            peak_slow = np.zeros(n, dtype=np.int64)
        # each log's steps are read once for its series and its peak (and let go before the next log's)
        backlog_level, backlog_mean, backlog_peak = _read(fleet.backlog_log, grid, step, mean=True)
        memory_level, _, memory_peak = _read(fleet.memory_log, grid, step)
        sessions_level, _, sessions_peak = _read(fleet.sessions_log, grid, step)
        spool_level, _, spool_peak = _read(fleet.spool_log, grid, step)
        series = {
            "t": [round(float(t), 3) for t in grid],
            "sender_backlog": backlog_level.tolist(),  # each step's highest
            "sender_backlog_mean": [round(float(v), 6) for v in backlog_mean],
            "receiver_memory_bytes": (memory_level * size).tolist(),
            "s3_requests_per_s": [round(float(c) / step, 4) for c in counts],
            "s3_peak_requests_per_s": [int(p) for p in peak_rate],
            "s3_peak_slowdowns_per_s": [int(p) for p in peak_slow],
            "spool_bytes": (spool_level * size).tolist(),
            "receiver_sessions": sessions_level.tolist(),
        }
        peak_second = int(per_second.max()) if len(requests) else 0  # the same bincount as above
        peaks = {"sender_backlog": backlog_peak,
                 "receiver_memory_bytes": memory_peak * size,
                 "receiver_sessions": memory_peak if fleet.config.receiver == "stalwart" else 0,
                 "s3_requests_per_s": peak_second,
                 "spool_bytes": spool_peak * size}
        return cls(
            config=fleet.config.to_dict(), faults=fleet.faults.specs(),
            s3_windows=[(f.kind, f.start, f.end) for f in fleet.faults.s3], messages=len(msgs), fates=fates,
            copies=copies, duplicates=duplicates, delay=_percentiles(delays),
            smtp_sessions=smtp_sessions, sessions_peak=sessions_peak,
            sessions_refused=fleet.sessions_refused,
            sending_servers=sum(len(group) for group in fleet.servers.values()), s3_requests=len(fleet.request_times),
            s3_slowdowns=fleet.slowdowns, peaks=peaks, drain=_drain(fleet), ended=round(fleet.ended, 3),
            series=series, wall_seconds=round(fleet.wall_seconds, 4), detail=msgs, recovery=_recovery(fleet))

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict (the CLI's ``fleet --json`` object; no per-message detail)."""
        return {name: getattr(self, name) for name in (
            "config", "faults", "s3_windows", "messages", "fates", "copies", "duplicates", "delay", "smtp_sessions",
            "sessions_peak", "sessions_refused", "sending_servers", "s3_requests",
            "s3_slowdowns", "peaks", "drain", "ended", "series", "wall_seconds")}

    def summary(self, wall: bool = True) -> str:
        """A few lines for a terminal or a notebook (``wall=False`` leaves out the wall time, which varies)."""
        f, d, p = self.fates, self.delay, self.peaks
        lines = [
            f"{self.messages:,} messages: {f['delivered']:,} delivered, {f['bounced']:,} bounced, "
            f"{f['lost']:,} lost, {f['queued']:,} still queued; {self.copies:,} copies accepted "
            f"({self.duplicates:,} duplicates)",
            "delay of delivered mail: " + (
                f"median {format_duration(d['p50'])}, p90 {format_duration(d['p90'])}, "
                f"p99 {format_duration(d['p99'])}, max {format_duration(d['max'])}" if d["max"] is not None else "none delivered"),
            f"peaks: {p['sender_backlog']:,} message{'' if p['sender_backlog'] == 1 else 's'} held by senders, receiver memory {_mib(p['receiver_memory_bytes'])}"
            + (f" in {p['receiver_sessions']:,} open sessions" if p["receiver_sessions"] else "")
            + f", {p['s3_requests_per_s']:,} S3 requests in one second"
            + (f", spool {_mib(p['spool_bytes'])}" if p["spool_bytes"] else ""),
            f"{self.smtp_sessions:,} SMTP sessions"
            + (f" from {self.sending_servers:,} sending servers" if self.sending_servers else "")
            + f" (at most {self.sessions_peak:,} open at the receiver at once"
            + (f"; {self.sessions_refused:,} refused at its connection cap" if self.sessions_refused else "")
            + f"), {self.s3_requests:,} S3 requests"
            + (f" ({self.s3_slowdowns:,} answered 503 SlowDown for capacity)" if self.s3_slowdowns else ""),
        ]
        if self.drain["sender_backlog_seconds"] is not None:
            bounced = self.drain.get("sender_backlog_bounced") or 0
            lines.append("after S3 came back: the senders' backlog "
                         + (f"was cleared ({bounced:,} of it by bouncing) in " if bounced else "drained in ")
                         + f"{format_duration(self.drain['sender_backlog_seconds'])}"
                         + (f", the spool in {format_duration(self.drain['spool_seconds'])}"
                            if self.drain.get("spool_seconds") else ""))
        lines.append(f"simulated {format_duration(self.ended)}" + (f" in {self.wall_seconds:.2f} s of wall time" if wall else ""))
        return "\n".join(lines)


#: How many seconds after S3's return :attr:`FleetResult.recovery` counts, second by second.
RECOVERY_SECONDS = 600


def _recovery(fleet: Fleet) -> dict[str, Any]:
    """Requests and 503 SlowDown answers in each second of the first :data:`RECOVERY_SECONDS` after S3's last change."""
    import numpy as np

    back = fleet.faults.last_s3_change() if fleet.faults.s3 else None
    if back is None:
        return {}
    edges = np.arange(RECOVERY_SECONDS + 1, dtype=float) + float(back)

    def count(times) -> list[int]:
        a = np.frombuffer(times, dtype=float)
        return np.histogram(a, bins=edges)[0].astype(int).tolist() if len(a) else [0] * RECOVERY_SECONDS

    return {"from": float(back), "requests": count(fleet.request_times), "slowdowns": count(fleet.slowdown_times)}


def _mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _drain(fleet: Fleet) -> dict[str, Optional[float]]:
    """How long after S3's last change (the outage's end) the senders, and the spool, let go of what they held.

    ``sender_backlog_bounced`` says how many of the messages the senders let go of after that were
    bounced rather than delivered: a backlog cleared by bouncing is not a backlog drained.
    """
    s3 = fleet.faults.s3
    if not s3 or any(f.end is None for f in s3):
        return {"s3_back_at": None, "sender_backlog_seconds": None, "sender_backlog_bounced": None,
                "spool_seconds": None}
    back = fleet.faults.last_s3_change()
    held = [m for m in fleet.messages if m.arrival < back and (m.released_at is None or m.released_at > back)]
    sender = (None if any(m.released_at is None for m in held)
              else round(max((m.released_at for m in held), default=back) - back, 3))
    bounced = sum(1 for m in held if m.sender_bounced)
    spooled = []
    for m in fleet.messages:
        kept = m._copies
        if kept.__class__ is float:  # one copy, durable the instant it was accepted: never spooled past it
            if kept < back:
                spooled.append(kept)
        elif kept:
            spooled += [_left_spool(c) for c in kept if c.t < back]
    spooled = [t for t in spooled if t is None or t > back]
    spool = None if any(t is None for t in spooled) else round(max(spooled, default=back) - back, 3)
    return {"s3_back_at": back, "sender_backlog_seconds": sender, "sender_backlog_bounced": bounced,
            "spool_seconds": spool}


def _left_spool(c: Copy) -> Optional[float]:
    for t in (c.durable_at, c.bounced_at, c.lost_at):
        if t is not None:
            return t
    return None


