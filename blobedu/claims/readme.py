"""README.md's numbers."""

from ..durations import HORIZON_SECONDS
from . import Input, Measured, Model, Source
from .helpers import delivered_at, dur, first_reply_after, put_elapsed, sleeps, spaced, tol, worst

CLAIMS = [
    # "What should I do?": the hazards table (blobedu/hazards.py, generated)
    Source("120 s", "crates/smtp/src/queue/spool.rs:415-426@v0.16.18: BlobLink::Temporary { until: now + 120 }"),
    Source("18h", "the hazard id backoff-18h: each retry sleeps 65,536 s, crates/store/src/backend/s3/mod.rs@v0.10.3:102-103"),
    # the short answer
    Model("1, 2, 4 s", lambda: ", ".join(f"{s:g}" for s in sleeps()) + " s"),
    Input("6-hour", "blobedu deliver --fault refused@0-6h (delivered at the 1d04h try)"),
    Model("28 h", lambda: f"{round(delivered_at('refused@0-6h') / 3600)} h", note="a 6-hour outage costs about 28 h"),
    Model("4d06h", lambda: dur(tol("exim").last_try_at)),
    # the command line
    Model("1d05h", lambda: dur(delivered_at("refused@0-29h", sender="postfix"))),
    Model("30 days", lambda: spaced(HORIZON_SECONDS)),
    # the final-dot duplicate
    Input("10", "--max-retries 10 / maxRetries=10"),
    Model("65,536 s", lambda: f"{sleeps('0.10.3')[0]:,.0f} s"),
    Model("18 hours", lambda: f"{first_reply_after('503@0-1m', version='0.10.5') // 3600:.0f} hours"),
    # the hazard atlas section (#22)
    Model("18-hour", lambda: f"{first_reply_after('503@0-1m', version='0.10.5') // 3600:.0f}-hour"),
    Model("5m19s", lambda: dur(sum(sleeps(max_retries=10)))),
    Input("11 PUTs of 29 s", "--max-retries 10 --latency 29s: 1 + maxRetries PUTs, each as slow as the latency"),
    Model("319 s", lambda: f"{sum(sleeps(max_retries=10)):g} s"),
    Model("11m07s", lambda: dur(put_elapsed("503@0-9m", max_retries=10, latency=29.0))),
    Model("22 ×", lambda: f"{2 * worst(10)['requests_5xx']} ×"),
    Model("16 minutes", lambda: f"{worst(10)['slow_verify'] // 60:.0f} minutes"),
    Model("4 minutes", lambda: f"{round(worst()['slow_verify'] / 60)} minutes"),
    Input("the default 3", "maxRetries' default on 0.16 (versions.py)"),
    # the WAL contrast
    Model("1h02m", lambda: dur(delivered_at("refused@0-1h"))),
    Measured("0.39 ms p99 0.81 ms", "benchmarks/spool.py (fsync of a 64 KiB message)"),
    Input("64 KiB 100 messages", "benchmarks/spool.py's message size; a rate of 100 messages/min"),
    Model("375 MiB", lambda: f"{64 * 1024 * 100 * 60 / 2**20:.0f} MiB"),
    # the fleet (benchmarks/fleet.py) and the equivalence test
    Source("240", "tests/test_fleet_equivalence.py: the hypothesis examples of the equivalence proof"),
    Source("5 20", "Postfix initial_destination_concurrency 5, default_destination_concurrency_limit 20 "
           "(src/global/mail_params.h:867,872@v3.7.11); Exim queue_run_max 5 (src/src/globals.c:1249@exim-4.96)"),
    Source("8192", "server.max-connections 8192 (common/src/config/server/listener.rs:197-203@v0.15.5; "
           "registry/src/schema/structs_impl.rs:41477@v0.16.18)"),
    Input("100", "--sending-servers' default (blobedu/fleet/config.py DEFAULT_SENDING_SERVERS, reasons there)"),
    Measured("10,000 messages 6-hour 0.25 s 0.39 s 5 s 1,000 messages 0.02 s 0.15 s 1 s medians of 5",
             "benchmarks/fleet.py (README figures)"),
    Measured("10,000 messages 0.3 s 200,000 3.1-3.6 s 190 MB 1,000,000 18.5-19.7 s 810 MB 20 s 1 GB",
             "benchmarks/fleet.py --scale, three alternating pairs against 62ff026 on a quiet machine (CPU time "
             "and peak RSS, real senders; benchmarks/README.md, fourth revision)"),
    # install and suite times
    Measured("87 s 150 2 vCPUs", "a fresh `make install` on this project's machine (pip's own count of packages)"),
    Measured("about 2 min about 4 min 2 min after about 3 min", "the browser, Binder and mta suites' own run times"),
    # notebook 08's section (the other servers)
    Source("554", "internal/endpoint/smtp/session.go:572-617@maddy v0.9.4 (blobedu/servers/maddy.py)"),
]
