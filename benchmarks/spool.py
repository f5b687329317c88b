"""What a write-ahead spool costs on this machine: fsync latency, spool growth in an outage, a real run.

Run on demand: ``.venv/bin/python benchmarks/spool.py [--samples N]``.  It prints figures; it
asserts nothing.  The fsync figure depends on the disk under the temp folder (printed with it):
on tmpfs fsync is free, on a laptop SSD it is often well under a millisecond, on network block
storage it can be several milliseconds, and it is paid before every 250.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from blobedu.durations import format_duration  # noqa: E402
from blobedu.sender import sample_message  # noqa: E402
from blobedu.spool import (DEFAULT_MESSAGE_BYTES, UPLOAD_RETRY_SECONDS, fsync_latency, spool_growth,  # noqa: E402
                           spool_run)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""  # pragma: no cover


def main(argv=None) -> int:
    """Print the three sets of figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300, help="spool writes timed per message size (default 300)")
    parser.add_argument("--dir", default=None, help="where to create the temp folder (default: the system temp dir)")
    args = parser.parse_args(argv)

    print("1. write + fsync(file) + rename + fsync(directory) per message, the path taken before each 250")
    for size in (len(sample_message()), DEFAULT_MESSAGE_BYTES, 1024 * 1024):
        print("  ", fsync_latency(args.samples, size, args.dir))
    print("   the same, each entry on 3 folders (the fair WAL's 3 replicas; one disk here, no network round trip)")
    print("  ", fsync_latency(args.samples, DEFAULT_MESSAGE_BYTES, args.dir, replicas=3))

    print(f"\n2. the spool when S3 comes back ({_size(DEFAULT_MESSAGE_BYTES)} messages, "
          f"one upload attempt per message every {format_duration(UPLOAD_RETRY_SECONDS)})")
    print(f"   {'rate':>9}  {'outage':>6}  {'messages':>9}  {'on disk':>10}  {'fsyncs':>9}  {'failed uploads':>14}")
    for rate in (1, 10, 100, 1000):
        for outage in (600, 3600, 6 * 3600, 86400):
            g = spool_growth(rate, outage, DEFAULT_MESSAGE_BYTES)
            print(f"   {rate:>5}/min  {format_duration(outage):>6}  {g.messages:>9,}  {_size(g.disk_bytes):>10}  "
                  f"{g.fsyncs:>9,}  {g.upload_attempts:>14,}")

    print("\n3. a real run: 5 messages a minute apart through a spooling receiver, S3 refused for 10 minutes")
    run = spool_run(messages=5, interval=60, faults=["refused@0-10m"], sample_every=60, message_bytes=2048)
    for s in run.samples:
        print(f"   {format_duration(s['t']):>6}  {s['entries']} entries  {_size(s['bytes']):>9}")
    print(f"   peak {run.peak_entries} entries, {_size(run.peak_bytes)}; replies: "
          f"{', '.join(sorted({r[:3] for r in run.replies}))}; uploaded at "
          f"{', '.join(format_duration(a['durable_at']) for a in run.accepted)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
