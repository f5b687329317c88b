"""notebooks/05_tuning.ipynb's numbers."""

import json

from ..faults import parse
from ..realmta import TRANSCRIPTS
from ..schedules import sender_schedule
from . import Input, Model, Source
from .helpers import dur, first_reply_after, first_session_requests, listed, put_elapsed, run, sleeps, spaced, worst

SLOW = dict(max_retries=10, latency=29)  # an S3 that answers 503 only after 29 s


def _worst_requests() -> int:
    """Slow requests in the worst case with verifyAfterWrite: (its time - the backoff) / the timeout."""
    w = worst(10, 30.0)
    return round((w["slow_verify"] - w["sleep_5xx"]) / 30.0)


def _transcript() -> dict:
    return json.loads((TRANSCRIPTS / "postfix_duplicate.json").read_text())


CLAIMS = [
    Input("maxRetries 3 and 10", "the settings the cells compare (10 is the top of the schema's 1-10 range)"),
    Input("29 s", "StoreConfig(latency=29): each 503 comes after 29 s"),
    Input("15 minutes", "deliver(['503@0-15m'], ..., sender='postfix')"),
    # the worst case (policy.worst_case_seconds) and the 503 storm (a real put on moto)
    Model("5m19s", lambda: dur(put_elapsed("503@0", max_retries=10))),
    Model("319 s", lambda: f"{sum(sleeps(max_retries=10)):g} s"),
    Model("22 slow requests", lambda: f"{_worst_requests()} slow requests"),
    Model("11 PUTs, 11 HEADs", lambda: f"{_worst_requests() // 2} PUTs, {_worst_requests() // 2} HEADs"),
    Model("16 minutes", lambda: f"{round(worst(10, 30.0)['slow_verify'] / 60)} minutes"),
    # a time-out after the loop runs out: one copy, later
    Model("10m38s", lambda: dur(first_reply_after("503@0-15m", **SLOW))),
    Model("20 minutes", lambda: spaced(run("503@0-15m", sender="postfix", **SLOW).sessions[1].t)),
    # the duplicate: the loop's last PUT succeeds after Postfix hung up
    Model("11 PUTs plus 1 HEAD", lambda: "{PUT} PUTs plus {HEAD} HEAD".format(
        **first_session_requests("503@0-9m", sender="postfix", **SLOW))),
    Model("11 minutes", lambda: f"{round(first_reply_after('503@0-9m', **SLOW) / 60)} minutes"),
    # the real Postfix recording (notebooks/transcripts/postfix_duplicate.json)
    Model("600 s", lambda: f"{sender_schedule('postfix').final_dot_wait:g} s"),
    Model("3 s", lambda: f"{_transcript()['settings']['smtp_data_done_timeout']:g} s"),
    Model("5 s", lambda: f"{parse(_transcript()['slow_s3'][0]).end:g} s"),
    Model("1, 2 and 4 s", lambda: listed(sleeps(), "s")),
]


def _load(max_retries: int) -> dict:
    """The row of experiments.retry_load (a 1-hour 503 storm, a Stalwart sender) for one maxRetries."""
    from ..experiments import retry_load

    return next(r for r in retry_load() if r["maxRetries"] == max_retries)


# the predict-then-see answer (maxRetries 10 in a 1-hour storm), the storm slider and the panel's default
CLAIMS += [
    Input("1-hour 5m 1h 4 minutes", "the predict's storm 503@0-1h; the storm slider's positions (1m, 4m, 5m, 10m, 1h)"),
    Source("451s 503s", "the 451 of crates/smtp/src/inbound/data.rs:829@v0.16.18; HTTP 503 (RFC 9110 §15.6.4)"),
    Model("1h27m", lambda: _load(10)["delivered after"]),
    Model("1h02m", lambda: _load(3)["delivered after"]),
    Model("57 S3 requests instead of 22", lambda: f"{_load(10)['S3 requests']} S3 requests instead of {_load(3)['S3 requests']}"),
    Model("about 2 minutes", lambda: f"about {round(first_reply_after('503@0-15m', latency=29) / 60)} minutes"),
]
