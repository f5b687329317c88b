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
        """The sleep before retry number k+1, in seconds."""
        shift = min(k, self.bound) if self.op == "min" else max(k, self.bound)
        return float(1 << shift)

    def formula(self) -> str:
        """The expression as Stalwart's source writes it."""
        return f"1 << (max_retries - retries_left).{self.op}({self.bound})"


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
    verify_supported: bool
    verify_default: bool
    transport_retries: int  # rust-s3's retry! macro: RETRIES = 1 from rust-s3 0.36 (Stalwart v0.16.0)
    s3_client: str
    sources: dict[str, str] = field(default_factory=dict)

    def transport_retry_delay(self, n: int) -> float:
        """rust-s3's ``retry!`` sleeps ``retry_cnt²`` s before transport retry n (s3/src/utils/mod.rs:402)."""
        return float(n * n)

    def covers(self, version: tuple[int, int, int]) -> bool:
        """True when this row describes ``version``."""
        return self.first <= version <= self.last


def _v(text: str) -> tuple[int, int, int]:
    a, b, c = (int(x) for x in text.split("."))
    return (a, b, c)


#: The table the model runs on.  Cited: shared/stalwart-facts.md §1 "Settings and defaults by version".
VERSIONS: tuple[Behaviour, ...] = (
    Behaviour(
        label="< 0.10.3",
        first=_v("0.1.0"),
        last=_v("0.10.2"),
        config_keys="store.<id>.* (TOML)",
        retries=False,
        default_max_retries=0,
        max_retries_range=None,
        backoff=None,
        default_timeout=30.0,
        verify_supported=False,
        verify_default=False,
        transport_retries=0,
        s3_client="rust-s3 (no retry)",
        sources={
            "loop": f"{S3_MOD}@v0.10.2: one request, any failure is S3Error",
        },
    ),
    Behaviour(
        label="0.10.3 – 0.11.1",
        first=_v("0.10.3"),
        last=_v("0.11.1"),
        config_keys="store.<id>.max-retries, store.<id>.timeout (TOML)",
        retries=True,
        default_max_retries=3,
        max_retries_range=(0, 100),
        backoff=Backoff("max", 16),
        default_timeout=30.0,
        verify_supported=False,
        verify_default=False,
        transport_retries=0,
        s3_client="rust-s3 0.3x (no transport retry)",
        sources={
            "loop": f"{S3_MOD}@v0.10.3 (commit 3ac7cd0)",
            "backoff": f"{S3_MOD}@v0.10.3: `.max(16)` makes every retry sleep 65,536 s",
        },
    ),
    Behaviour(
        label="0.11.2 – 0.15.x",
        first=_v("0.11.2"),
        last=_v("0.15.999"),
        config_keys="store.<id>.max-retries, store.<id>.timeout (TOML)",
        retries=True,
        default_max_retries=3,
        max_retries_range=(0, 100),
        backoff=Backoff("min", 6),
        default_timeout=30.0,
        verify_supported=False,
        verify_default=False,
        transport_retries=0,
        s3_client="rust-s3 0.35 (no transport retry)",
        sources={
            "loop": f"{S3_MOD}@v0.15.5",
            "backoff": f"{S3_MOD}@v0.11.2 (commit 4901411, 'S3 incorrect backoff wait time after failures')",
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
        verify_supported=False,
        verify_default=False,
        transport_retries=1,
        s3_client="rust-s3 0.36+ (retry! macro: RETRIES = 1, delay retry_cnt² s)",
        sources={
            "loop": f"{S3_MOD}@v0.16.1",
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
        verify_supported=True,
        verify_default=True,
        transport_retries=1,
        s3_client="rust-s3 0.37 (retry! macro: RETRIES = 1, delay retry_cnt² s)",
        sources={
            "loop": f"{S3_MOD}@v0.16.18, lines 94-233",
            "verify": f"{S3_MOD}@v0.16.2 (commit 3e07a0f): HEAD after PUT, shared retries_left",
            "transport_retry": "rust-s3 0.37 s3/src/utils/mod.rs:402 retry!, s3/src/lib.rs:38 RETRIES = 1",
        },
    ),
)

LATEST = "0.16.18"
# ASCII digits only (\d would take Arabic-Indic or full-width ones), at most 4 per part; fullmatch, so
# a trailing newline is refused rather than matched by "$"
_VERSION_RE = re.compile(r"v?([0-9]{1,4})\.([0-9]{1,4})(?:\.([0-9]{1,4}))?")


def parse_version(text: str) -> tuple[int, int, int]:
    """Parse ``0.15.5`` or ``v0.15.5`` (``0.15`` means ``0.15.0``) into a tuple."""
    match = _VERSION_RE.fullmatch(str(text).strip(" \t"))
    if not match:
        shown = repr(text) if len(repr(text)) <= 40 else repr(text)[:37] + "...'"
        raise BlobeduError(f"bad Stalwart version {shown}: write it like 0.15.5 (modelled: 0.1.0 to {LATEST})")
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def behaviour(version: str = LATEST) -> Behaviour:
    """The row of :data:`VERSIONS` that describes Stalwart ``version``."""
    parsed = parse_version(version)
    for row in VERSIONS:
        if row.covers(parsed):
            return row
    raise BlobeduError(
        f"Stalwart {version!r} is not modelled: no row of the version table holds it "
        f"(rows: {', '.join(r.label for r in VERSIONS)})"
    )


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
                "timeout": f"{b.default_timeout:g}s",
                "verifyAfterWrite": ("on" if b.verify_default else "off") if b.verify_supported else "absent",
                "transport retry": f"{b.transport_retries} after 1s (rust-s3)" if b.transport_retries else "none",
            }
        )
    return rows
