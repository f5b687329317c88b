"""notebooks/08_other_servers.ipynb's numbers: the other servers' constants (cited) and what their models print."""

from functools import lru_cache

from . import Input, Model, Source


@lru_cache(maxsize=None)
def _maddy_bounce() -> float:
    from ..servers.compare import run

    return run("maddy", ["refused@0-1h"], sender="postfix").dsns[-1]["t"]


def _recorded_empty_puts() -> str:
    from ..servers import maddy_real

    puts = maddy_real.load()["cases"]["503"]["client"]["attempts"]
    return f"{sum(a['body_bytes'] == 0 for a in puts)} empty PUTs"


def _harness_size() -> str:
    from ..servers import maddy_real

    return f"{maddy_real.SIZE // 1024} KiB"


def _response_header_timeout() -> str:
    from ..servers import maddy

    return f"{maddy.RESPONSE_HEADER_TIMEOUT:g} s"


def _repair_last_wait() -> str:
    from ..servers import tmail

    return f"{tmail.REPAIR_FIRST_BACKOFF * 2 ** (tmail.REPAIR_RETRIES - 1):g} s"


CLAIMS = [
    Source("554", "internal/endpoint/smtp/session.go:572-617@maddy v0.9.4 (blobedu/servers/maddy.py)"),
    Source("450", "connection.js:1774-1809@Haraka v3.1.6; index.js:1715-1720@haraka-plugin-wildduck v6.0.1"),
    Source("1 MiB", "archive_maxsize \"1024 K\", lib/imapoptions:339-375@cyrus-imapd-3.12.3"),
    Source("10", "MaxRetry = 10, retry.go:30-44@minio-go v7.0.84"),
    Model("4 seconds", lambda: f"{round(_maddy_bounce())} seconds", note="maddy's minio-go retries before the 554"),
    Source("0 bytes", "hook-reader.go:36-67@minio-go v7.0.84: a pipe cannot be rewound (other-servers.md experiment)"),
    Input("50 ms", "the fault 503@0-50ms in the notebook's blip cell and the slider's 'one 503 (50 ms)'"),
    Model("9 empty PUTs", _recorded_empty_puts, note="the recorded real minio-go run, 503 case (maddy_minio.json)"),
    Model("64 KiB", _harness_size, note="the body blobedu/servers/maddy_real.py writes through the harness"),
    Model("60 s", _response_header_timeout, note="ResponseHeaderTimeout: time.Minute, transport.go:44-64@minio-go"),
    Source("8", "DEFAULT_MAX_RETRIES = 8, RetryBackoffConfiguration.java:65-71@james-project-3.9.0"),
    Source("100 ms", "DEFAULT_FIRST_BACKOFF, RetryBackoffConfiguration.java:65-71@james-project-3.9.0"),
    Model("12.8 s", _repair_last_wait, note="the 8th repair retry's exponential part (WaitDelayGenerator.java:67-78)"),
    Source("30 seconds", "plugin_timeout default 30, plugins.js:255-267@Haraka v3.1.6"),
    Source("0", "socketTimeoutMS default 0, mongodb src/connection_string.ts@00a39d1 (WildDuck passes none, lib/db.js:27-32)"),
]
