"""Stalwart's S3 blob-store behaviour, version by version, as one table of data.

Theory of operation
-------------------
Everything that differs between Stalwart versions in how the S3 backend treats a failing request
lives in :data:`VERSIONS`, and nowhere else.  The retry loop in :mod:`blobedu.policy` reads one row
(a :class:`Behaviour`) and never asks which version it runs: there is not one ``if version < ...``
outside this file.  Notebooks print the very table the code runs on (:func:`table_rows`).

Every cell comes from ``shared/stalwart-facts.md`` §1, which was read off
``crates/store/src/backend/s3/mod.rs`` in ``stalwartlabs/stalwart`` at the versions named.  The
loop itself (at HEAD, lines 94-233) is the same at every version that has one::

    500..=599 if retries_left > 0 => {
        tokio::time::sleep(Duration::from_secs(1 << (self.max_retries - retries_left).min(6))).await;
        retries_left -= 1;
    }

so a row only has to say *whether* it retries, *how long* it sleeps (``min(k, 6)``, or the
v0.10.3-v0.11.1 bug ``max(k, 16)``), whether ``verifyAfterWrite`` exists, and whether rust-s3
adds its hidden transport retry underneath.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import BlobeduError

S3_MOD = "crates/store/src/backend/s3/mod.rs"

#: HTTP statuses Stalwart's loop retries (``500..=599`` in every arm of mod.rs). 429, 408, 403: never.
RETRY_STATUSES = range(500, 600)

#: Stalwart's error texts, to the byte (mod.rs@v0.16.18, put_blob).  The missing space after
#: "visible" is in the source: a ``concat!`` of two literals without one.
LOST_WRITE_ERROR = (
    "PUT acknowledged with 2xx but object not visible"
    "to read path; backend may be silently losing writes"
)
HEAD_FAILED_ERROR = "HEAD verification failed after PUT"


@dataclass(frozen=True)
class Backoff:
    """How long the k-th retry (k = max_retries - retries_left, from 0) sleeps: ``1 << op(k, bound)`` s."""

    op: str  # "min": the fixed code; "max": the v0.10.3-v0.11.1 bug
    bound: int

    def seconds(self, k: int) -> float:
        """The sleep before retry number k+1, in seconds.

        The literal ``1`` is a ``u64`` (``Duration::from_secs``) and Stalwart's release profile sets
        ``overflow-checks = false`` (Cargo.toml@v0.10.3), so a shift of 64 or more wraps to
        ``k & 63`` as Rust's ``<<`` does in release builds.  Only the ``.max(16)`` bug reaches it.
        """
        shift = min(k, self.bound) if self.op == "min" else max(k, self.bound)
        return float(1 << (shift & 63))

    def formula(self) -> str:
        """The expression as Stalwart's source writes it."""
        return f"1 << (max_retries - retries_left).{self.op}({self.bound})"


#: A TOML-era ``max-retries`` is a ``u32`` with no bound of its own (mod.rs@v0.10.3:18,68).
U32_MAX = 2**32 - 1


@dataclass(frozen=True)
class Behaviour:
    """One row of the version table: what one range of Stalwart versions does with a failing S3 request."""

    label: str
    first: tuple[int, int, int]
    last: tuple[int, int, int]
    config_keys: str
    retries: bool
    default_max_retries: int
    max_retries_range: tuple[int, int] | None  # None: the setting does not exist
    backoff: Backoff | None
    default_timeout: float
    timeout_bounds: str  # "request": the whole request (reqwest); "connect": only the TCP connect (hyper 0.14)
    verify_supported: bool
    verify_default: bool
    transport_retries: int  # rust-s3's retry! macro: RETRIES = 1 from rust-s3 0.36 (Stalwart v0.16.0)
    s3_client: str
    queued_reply: str  # the 250 to the final dot (crates/smtp/src/inbound/data.rs)
    sources: dict[str, str] = field(default_factory=dict)

    def transport_retry_delay(self, n: int) -> float:
        """rust-s3's ``retry!`` sleeps ``retry_cnt²`` s before transport retry n (s3/src/utils/mod.rs:402)."""
        return float(n * n)

    def covers(self, version: tuple[int, int, int]) -> bool:
        """True when this row describes ``version``."""
        return self.first <= version <= self.last

    @property
    def hangs_on_silent_s3(self) -> bool:
        """True when an S3 that accepts the connection and never answers is never timed out."""
        return self.timeout_bounds == "connect"


def _v(text: str) -> tuple[int, int, int]:
    a, b, c = (int(x) for x in text.split("."))
    return (a, b, c)


#: Every Stalwart release that has an S3 backend: the tags of ``stalwartlabs/stalwart`` from v0.5.0
#: (the first with ``crates/store/src/backend/s3/mod.rs``) to v0.16.18.  There is no v0.11.5.
RELEASES: tuple[tuple[int, int, int], ...] = tuple(
    (0, minor, patch)
    for minor, patches in (
        (5, range(0, 4)), (6, range(0, 1)), (7, range(0, 4)), (8, range(0, 6)), (9, range(0, 5)),
        (10, range(0, 8)), (11, (0, 1, 2, 3, 4, 6, 7, 8)), (12, range(0, 6)), (13, range(0, 5)),
        (14, range(0, 2)), (15, range(0, 6)), (16, range(0, 19)),
    )
    for patch in patches
)

#: The 250 to the final dot: data.rs@v0.12.3:685 and data.rs@v0.12.4:685.
QUEUED_FOR_DELIVERY = "250 2.0.0 Message queued for delivery."
QUEUED_WITH_ID = "250 2.0.0 Message queued with id {queue_id:x}."
_TOKIO_CONNECT = "s3/src/request/tokio_backend.rs@v0.35.1:40,56,104 (hyper connector: set_connect_timeout only)"

#: The table the model runs on.  Cited: shared/stalwart-facts.md §1 "Settings and defaults by version"
#: (revision 2), each row re-read at the tags named; the rust-s3 version is Stalwart's Cargo.lock at that tag.
VERSIONS: tuple[Behaviour, ...] = (
    Behaviour(
        label="0.5.0 – 0.8.1",
        first=_v("0.5.0"),
        last=_v("0.8.1"),
        config_keys="store.<id>.* (TOML)",
        retries=False,
        default_max_retries=0,
        max_retries_range=None,
        backoff=None,
        default_timeout=30.0,
        timeout_bounds="request",
        verify_supported=False,
        verify_default=False,
        transport_retries=0,
        s3_client="rust-s3 0.33 (reqwest; no retry)",
        queued_reply=QUEUED_FOR_DELIVERY,
        sources={
            "loop": f"{S3_MOD}@v0.5.0: one request, any failure is S3Error",
            "timeout": "with_request_timeout, s3/src/request/tokio_backend.rs@v0.33.0:56 (reqwest: whole request)",
        },
    ),
    Behaviour(
        label="0.8.2 – 0.10.2",
        first=_v("0.8.2"),
        last=_v("0.10.2"),
        config_keys="store.<id>.* (TOML)",
        retries=False,
        default_max_retries=0,
        max_retries_range=None,
        backoff=None,
        default_timeout=30.0,
        timeout_bounds="connect",
        verify_supported=False,
        verify_default=False,
        transport_retries=0,
        s3_client="rust-s3 0.35.0-alpha.2 (hyper 0.14; no retry)",
        queued_reply=QUEUED_FOR_DELIVERY,
        sources={
            "loop": f"{S3_MOD}@v0.10.2: one request, any failure is S3Error",
            "timeout": _TOKIO_CONNECT,
        },
    ),
    Behaviour(
        label="0.10.3 – 0.11.1",
        first=_v("0.10.3"),
        last=_v("0.11.1"),
        config_keys="store.<id>.max-retries, store.<id>.timeout (TOML)",
        retries=True,
        default_max_retries=3,
        max_retries_range=(0, U32_MAX),
        backoff=Backoff("max", 16),
        default_timeout=30.0,
        timeout_bounds="connect",
        verify_supported=False,
        verify_default=False,
        transport_retries=0,
        s3_client="rust-s3 0.35.0-alpha.2 (hyper 0.14; no transport retry)",
        queued_reply=QUEUED_FOR_DELIVERY,
        sources={
            "loop": f"{S3_MOD}@v0.10.3 (commit 3ac7cd0)",
            "backoff": f"{S3_MOD}@v0.10.3:102-103: `.max(16)` makes every retry sleep 65,536 s",
            "max_retries": f"{S3_MOD}@v0.10.3:18,68: a u32, default 3, no upper bound",
            "timeout": _TOKIO_CONNECT,
        },
    ),
    Behaviour(
        label="0.11.2 – 0.12.3",
        first=_v("0.11.2"),
        last=_v("0.12.3"),
        config_keys="store.<id>.max-retries, store.<id>.timeout (TOML)",
        retries=True,
        default_max_retries=3,
        max_retries_range=(0, U32_MAX),
        backoff=Backoff("min", 6),
        default_timeout=30.0,
        timeout_bounds="connect",
        verify_supported=False,
        verify_default=False,
        transport_retries=0,
        s3_client="rust-s3 0.35 (hyper 0.14; no transport retry)",
        queued_reply=QUEUED_FOR_DELIVERY,
        sources={
            "loop": f"{S3_MOD}@v0.12.3",
            "backoff": f"{S3_MOD}@v0.11.2: commits bfba299e (.max(16) -> .max(6)) and 4901411 (.max(6) -> .min(6))",
            "timeout": _TOKIO_CONNECT,
            "250": "crates/smtp/src/inbound/data.rs@v0.12.3:685",
        },
    ),
    Behaviour(
        label="0.12.4 – 0.15.5",
        first=_v("0.12.4"),
        last=_v("0.15.5"),
        config_keys="store.<id>.max-retries, store.<id>.timeout (TOML)",
        retries=True,
        default_max_retries=3,
        max_retries_range=(0, U32_MAX),
        backoff=Backoff("min", 6),
        default_timeout=30.0,
        timeout_bounds="connect",
        verify_supported=False,
        verify_default=False,
        transport_retries=0,
        s3_client="rust-s3 0.35.1 (hyper 0.14; no transport retry)",
        queued_reply=QUEUED_WITH_ID,
        sources={
            "loop": f"{S3_MOD}@v0.15.5",
            "backoff": f"{S3_MOD}@v0.11.2: commits bfba299e and 4901411",
            "timeout": _TOKIO_CONNECT,
            "250": "crates/smtp/src/inbound/data.rs@v0.12.4:685",
        },
    ),
    Behaviour(
        label="0.16.0 – 0.16.1",
        first=_v("0.16.0"),
        last=_v("0.16.1"),
        config_keys="registry: maxRetries, timeout (ms)",
        retries=True,
        default_max_retries=3,
        max_retries_range=(1, 10),
        backoff=Backoff("min", 6),
        default_timeout=30.0,
        timeout_bounds="request",
        verify_supported=False,
        verify_default=False,
        transport_retries=1,
        s3_client="rust-s3 0.37.1 (reqwest; retry! macro: RETRIES = 1, delay retry_cnt² s)",
        queued_reply=QUEUED_WITH_ID,
        sources={
            "loop": f"{S3_MOD}@v0.16.1",
            "timeout": "s3/src/request/tokio_backend.rs@v0.37.1:35 (reqwest client.timeout: whole request)",
            "transport_retry": "rust-s3 s3/src/utils/mod.rs:402 retry!, s3/src/lib.rs:38 RETRIES = 1",
        },
    ),
    Behaviour(
        label="0.16.2 – 0.16.18",
        first=_v("0.16.2"),
        last=_v("0.16.18"),
        config_keys="registry: maxRetries, timeout (ms), verifyAfterWrite",
        retries=True,
        default_max_retries=3,
        max_retries_range=(1, 10),
        backoff=Backoff("min", 6),
        default_timeout=30.0,
        timeout_bounds="request",
        verify_supported=True,
        verify_default=True,
        transport_retries=1,
        # Cargo.lock: 0.37.1 on v0.16.2-v0.16.4, 0.37.2 from v0.16.5 (facts §1 rev 3); the timeout and the
        # retry! macro were read in 0.37.1, since durch/rust-s3 has no 0.37.2 tag to read
        s3_client="rust-s3 0.37.1, 0.37.2 from v0.16.5 (reqwest; retry! macro: RETRIES = 1, delay retry_cnt² s; "
                  "read in 0.37.1)",
        queued_reply=QUEUED_WITH_ID,
        sources={
            "loop": f"{S3_MOD}@v0.16.18, lines 94-233",
            "verify": f"{S3_MOD}@v0.16.2 (commit 3e07a0f): HEAD after PUT, shared retries_left",
            "timeout": "s3/src/request/tokio_backend.rs@v0.37.1:35 (reqwest client.timeout: whole request)",
            "transport_retry": "rust-s3 0.37 s3/src/utils/mod.rs:402 retry!, s3/src/lib.rs:38 RETRIES = 1",
            "client": "Cargo.lock@v0.16.4: rust-s3 0.37.1; Cargo.lock@v0.16.5 and @v0.16.18: rust-s3 0.37.2",
        },
    ),
)

LATEST = "0.16.18"
FIRST = "0.5.0"
_VERSION_RE = re.compile(r"^v?([0-9]+)\.([0-9]+)(?:\.([0-9]+))?$")


def parse_version(text: str) -> tuple[int, int, int]:
    """Parse ``0.15.5`` or ``v0.15.5`` (``0.15`` means ``0.15.0``) into a tuple; ASCII digits only."""
    raw = str(text)
    match = _VERSION_RE.fullmatch(raw.strip(" "))
    if not match or len(raw) > 40:
        raise BlobeduError(f"bad Stalwart version {raw[:40]!r}: write it like 0.15.5 (modelled: {FIRST} to {LATEST})")
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def is_release(version: tuple[int, int, int]) -> bool:
    """True when ``version`` is a tagged Stalwart release with an S3 backend (:data:`RELEASES`)."""
    return version in RELEASES


def behaviour(version: str = LATEST) -> Behaviour:
    """The row of :data:`VERSIONS` that describes Stalwart ``version`` (a real release, 0.5.0 or later)."""
    parsed = parse_version(version)
    if parsed < _v(FIRST):
        raise BlobeduError(f"Stalwart {version} has no S3 blob store: the S3 backend first appears in {FIRST}")
    if parsed > _v(LATEST):
        raise BlobeduError(f"Stalwart {version} is not modelled: the facts cover {FIRST} to {LATEST}")
    if not is_release(parsed):
        same_minor = [r for r in RELEASES if r[:2] == parsed[:2]]
        hint = (f"0.{parsed[1]} releases are {'.'.join(map(str, same_minor[0]))} to "
                f"{'.'.join(map(str, same_minor[-1]))}") if same_minor else f"releases run from {FIRST} to {LATEST}"
        raise BlobeduError(f"Stalwart {version} was never released: {hint}")
    for row in VERSIONS:
        if row.covers(parsed):
            return row
    raise BlobeduError(f"Stalwart {version} is not modelled")  # pragma: no cover - RELEASES lie inside VERSIONS


def table_rows() -> list[dict[str, str]]:
    """The version table as printable rows (what the notebooks show; the model runs on the same data)."""
    rows = []
    for b in VERSIONS:
        rows.append(
            {
                "versions": b.label,
                "retries on": "500-599" if b.retries else "nothing",
                "maxRetries": str(b.default_max_retries) if b.retries else "-",
                "backoff": b.backoff.formula() if b.backoff else "-",
                "sleeps (default)": ", ".join(
                    f"{b.backoff.seconds(k):g}s" for k in range(b.default_max_retries)
                ) if b.backoff else "-",
                "timeout": f"{b.default_timeout:g}s, " + ("whole request" if b.timeout_bounds == "request"
                                                          else "connect only: a silent S3 hangs"),
                "verifyAfterWrite": ("on" if b.verify_default else "off") if b.verify_supported else "absent",
                "transport retry": f"{b.transport_retries} after 1s (rust-s3)" if b.transport_retries else "none",
                "250 text": b.queued_reply.replace("250 2.0.0 Message ", "").replace(" {queue_id:x}", " <id>"),
            }
        )
    return rows
