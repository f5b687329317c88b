"""Where S3 requests really go: boto3 to moto, in-process or on a loopback server, faults at the edge.

Two endpoints speak the real S3 API through boto3, with the SDK's own retries turned off
(``total_max_attempts: 1``) so that the only retries are the model's:

* :class:`InProcessEndpoint` (the default): moto's ``mock_aws`` inside this process.  Fast, and it
  works on Binder.  A fault is injected in botocore's ``before-send`` hook, registered first, so the
  SDK sees a real exception (``EndpointConnectionError``, ``ReadTimeoutError``) or a real HTTP
  response with an S3 error body.
* :class:`LoopbackEndpoint`: a :class:`moto.server.ThreadedMotoServer` on 127.0.0.1 and a free port.
  Faults are real sockets: ``refused`` connects to a port that is bound but not listening (the
  kernel answers RST), ``timeout`` to a server that reads the request and never answers, and HTTP
  faults to a small loopback server that answers with that status.

Loopback only: credentials are fake, and an endpoint URL that is not on 127.0.0.0/8 or ::1 is
refused unless the caller passes ``allow_remote=True``.  Nothing here decides whether to retry.
"""

from __future__ import annotations

import ipaddress
import itertools
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import urlparse

import boto3
import botocore.exceptions
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from .errors import BlobeduError
from .faults import Fault
from .policy import Reply

FAKE_CREDENTIALS = {"aws_access_key_id": "blobedu-fake-key", "aws_secret_access_key": "blobedu-fake-secret"}
REGION = "us-east-1"
DEFAULT_BUCKET = "blobedu-mail"
_BUCKETS = itertools.count(1)


def _fresh_bucket() -> str:
    """A new bucket name per endpoint: moto keeps its state per process, so runs must not share one."""
    return f"{DEFAULT_BUCKET}-{next(_BUCKETS)}"
_FAULT_HEADER = "x-blobedu-fault"

_ERROR_CODES = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
    429: ("TooManyRequests", "Too many requests."),
    403: ("AccessDenied", "Access Denied"),
    404: ("NoSuchKey", "The specified key does not exist."),
}


def error_body(status: int) -> bytes:
    """An S3-style XML error document for ``status``."""
    code, message = _ERROR_CODES.get(status, (f"Http{status}", f"HTTP {status}"))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()


def ensure_loopback(url: str, allow_remote: bool = False) -> str:
    """Return ``url`` if its host is a loopback address; otherwise refuse unless ``allow_remote``."""
    host = urlparse(url).hostname or ""
    if allow_remote:
        return url
    try:
        infos = socket.getaddrinfo(host, None) if host else []
    except socket.gaierror:
        infos = []
    addresses = {info[4][0] for info in infos}
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise BlobeduError(
            f"endpoint {url!r} is not on loopback (127.0.0.0/8 or ::1); blobedu only talks to local "
            "servers unless you pass allow_remote=True"
        )
    return url


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client(endpoint_url: Optional[str], timeout: float):
    config = Config(
        region_name=REGION,
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=timeout,
        read_timeout=timeout,
        s3={"addressing_style": "path"},
    )
    session = boto3.session.Session(region_name=REGION, **FAKE_CREDENTIALS)
    return session.client("s3", endpoint_url=endpoint_url, config=config)


def _call(client, method: str, bucket: str, key: str, body: bytes) -> Reply:
    """One boto3 call, its outcome translated to a :class:`Reply` (status or transport error)."""
    try:
        if method == "PUT":
            r = client.put_object(Bucket=bucket, Key=key, Body=body)
        elif method == "HEAD":
            r = client.head_object(Bucket=bucket, Key=key)
        elif method == "GET":
            r = client.get_object(Bucket=bucket, Key=key)
            r["Body"].read()
        elif method == "DELETE":
            r = client.delete_object(Bucket=bucket, Key=key)
        else:
            raise BlobeduError(f"unknown S3 method {method!r}: PUT, HEAD, GET or DELETE")
        return Reply(status=r["ResponseMetadata"]["HTTPStatusCode"])
    except botocore.exceptions.ClientError as exc:
        meta = exc.response.get("ResponseMetadata", {})
        err = exc.response.get("Error", {})
        body = f"{err.get('Code', '')}: {err.get('Message', '')}".strip(": ")
        return Reply(status=int(meta.get("HTTPStatusCode") or err.get("Code") or 0), body=body)
    except (botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectTimeoutError):
        return Reply(error="timeout")
    except botocore.exceptions.EndpointConnectionError:
        return Reply(error="refused")


class InProcessEndpoint:
    """moto's ``mock_aws`` in this process; faults injected in botocore's ``before-send`` hook."""

    kind = "in-process"

    def __init__(self, bucket: str | None = None) -> None:
        from moto import mock_aws

        self.bucket = bucket or _fresh_bucket()
        self._mock = mock_aws()
        self._mock.start()
        self._open = True
        self._fault: Optional[Fault] = None
        self._client = _client(None, 30.0)
        self._client.meta.events.register_first("before-send.s3", self._before_send)
        self._client.create_bucket(Bucket=self.bucket)

    def _before_send(self, request, **_kwargs):
        from moto.core.models import botocore_stubber

        if not self._open or not botocore_stubber.enabled:
            raise BlobeduError("moto's in-process mock is not active; refusing to send: nothing may reach real AWS")
        fault, self._fault = self._fault, None
        if fault is None or (fault.kind == "lost-write" and request.method != "PUT"):
            return None  # moto's own stubber answers
        if fault.kind == "refused":
            raise botocore.exceptions.EndpointConnectionError(endpoint_url=request.url)
        if fault.kind == "timeout":
            raise botocore.exceptions.ReadTimeoutError(endpoint_url=request.url)
        # botocore asks every before-send handler; point the request where moto's stubber matches
        # nothing, so the faulted request never reaches moto's backend.
        url, request.url = request.url, "http://blobedu-fault.invalid/"
        if fault.kind == "lost-write":
            return AWSResponse(url, 200, {"ETag": '"lost"'}, _Raw(b""))
        return AWSResponse(url, fault.status, {}, _Raw(error_body(int(fault.status))))

    def send(self, method: str, key: str, body: bytes = b"", fault: Optional[Fault] = None,
             timeout: float = 30.0, real_time: bool = False) -> tuple[Reply, float]:
        """Send one request meeting ``fault``; returns the reply and the wall seconds it took."""
        t0 = time.monotonic()
        self._fault = fault
        try:
            reply = _call(self._client, method, self.bucket, key, body)
        finally:
            self._fault = None
        return reply, time.monotonic() - t0

    def exists(self, key: str) -> bool:
        """Whether the object is really in S3 (read back from moto, no fault)."""
        return _call(self._client, "HEAD", self.bucket, key, b"").status == 200

    def keys(self) -> list[str]:
        """Every object key in the bucket."""
        listing = self._client.list_objects_v2(Bucket=self.bucket)
        return [o["Key"] for o in listing.get("Contents", [])]

    def reset(self) -> None:
        """Empty the bucket, so that a run on a reused endpoint starts from nothing (blob keys repeat)."""
        for key in self.keys():
            self._client.delete_object(Bucket=self.bucket, Key=key)

    def close(self) -> None:
        """Stop moto's mock."""
        if self._open:
            self._open = False
            self._mock.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Raw:
    """The minimal raw body botocore reads from an ``AWSResponse``."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_kwargs):
        if self._data:
            yield self._data

    def read(self, *_args):
        data, self._data = self._data, b""
        return data


class _FaultHandler(BaseHTTPRequestHandler):
    """Answers every request as its ``x-blobedu-fault`` header says: a status, 200 (lost write) or never."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        kind = self.headers.get(_FAULT_HEADER, "500")
        if kind == "timeout":
            self.server.stop_event.wait(600)  # a socket that never answers (until shutdown)
            self.close_connection = True
            return
        status, payload, headers = 200, b"", {"ETag": '"lost"'}
        if kind != "lost-write":
            status, payload, headers = int(kind), error_body(int(kind)), {"Content-Type": "application/xml"}
        if self.command == "HEAD":
            payload = b""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_PUT = do_GET = do_HEAD = do_DELETE = do_POST = _answer

    def log_message(self, *_args) -> None:  # quiet
        pass


class LoopbackEndpoint:
    """A real S3 API over TCP on 127.0.0.1: ThreadedMotoServer, plus real refused and silent sockets."""

    kind = "loopback"

    def __init__(self, bucket: str | None = None, url: Optional[str] = None, allow_remote: bool = False,
                 virtual_timeout: float = 0.2) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on stderr

        self.bucket = bucket or _fresh_bucket()
        self._server = None
        self._running = url is None
        if url is None:
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
            host, port = self._server.get_host_and_port()
            url = f"http://{host}:{port}"
        self.url = ensure_loopback(url, allow_remote)
        # refused: a port bound but never listening; the kernel answers the SYN with RST.
        self._dead = socket.socket()
        self._dead.bind(("127.0.0.1", 0))
        self.refused_url = f"http://127.0.0.1:{self._dead.getsockname()[1]}"
        # HTTP faults and the silent socket
        self._faults = ThreadingHTTPServer(("127.0.0.1", 0), _FaultHandler)
        self._faults.daemon_threads = True
        self._faults.stop_event = threading.Event()
        threading.Thread(target=self._faults.serve_forever, daemon=True).start()
        self.fault_url = f"http://127.0.0.1:{self._faults.server_address[1]}"
        self.virtual_timeout = virtual_timeout
        self._clients: dict[tuple[str, float], object] = {}
        self._lock = threading.Lock()
        self._client_for(self.url, 30.0).create_bucket(Bucket=self.bucket)

    def prepare(self, timeout: float, real_time: bool = False) -> None:
        """Build the boto3 clients a run will use, so that building them costs no request any time."""
        socket_timeout = timeout if real_time else min(timeout, self.virtual_timeout)
        for url in (self.url, self.refused_url, self.fault_url):
            self._client_for(url, socket_timeout)

    def _client_for(self, url: str, timeout: float):
        with self._lock:
            key = (url, timeout)
            if key not in self._clients:
                client = _client(url, timeout)
                if url == self.fault_url:
                    client.meta.events.register("before-send.s3", _tag_fault)
                self._clients[key] = client
            return self._clients[key]

    def send(self, method: str, key: str, body: bytes = b"", fault: Optional[Fault] = None,
             timeout: float = 30.0, real_time: bool = False) -> tuple[Reply, float]:
        """Send one request over TCP; on a virtual clock a silent socket is given up after a short real wait."""
        t0 = time.monotonic()
        socket_timeout = timeout if real_time else min(timeout, self.virtual_timeout)
        if fault is None or (fault.kind == "lost-write" and method != "PUT"):
            reply = _call(self._client_for(self.url, socket_timeout), method, self.bucket, key, body)
        elif fault.kind == "refused":
            reply = _call(self._client_for(self.refused_url, socket_timeout), method, self.bucket, key, body)
        else:
            client = self._client_for(self.fault_url, socket_timeout)
            _PENDING.kind = fault.kind
            try:
                reply = _call(client, method, self.bucket, key, body)
            finally:
                _PENDING.kind = None
        return reply, time.monotonic() - t0

    def unplug(self) -> None:
        """Pull the plug: stop the moto server, so every request meets a real refused connection."""
        if self._server is None or not self._running:
            raise BlobeduError("this loopback S3 is not one blobedu started, or it is already unplugged")
        self._server.stop()
        self._running = False

    def plug(self) -> None:
        """Plug it back in: start the moto server again on the same port; moto keeps the bucket."""
        from moto.server import ThreadedMotoServer

        if self._server is None or self._running:
            raise BlobeduError("this loopback S3 is not one blobedu started, or it is already running")
        port = urlparse(self.url).port
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        self._running = True

    @property
    def plugged(self) -> bool:
        """True while the loopback S3 answers."""
        return self._server is None or self._running

    def exists(self, key: str) -> bool:
        """Whether the object is really in the moto server (no fault)."""
        return _call(self._client_for(self.url, 30.0), "HEAD", self.bucket, key, b"").status == 200

    def keys(self) -> list[str]:
        """Every object key in the bucket."""
        listing = self._client_for(self.url, 30.0).list_objects_v2(Bucket=self.bucket)
        return [o["Key"] for o in listing.get("Contents", [])]

    def close(self) -> None:
        """Stop the servers and free the ports."""
        self._faults.stop_event.set()
        self._faults.shutdown()
        self._faults.server_close()
        self._dead.close()
        if self._server is not None:
            if self._running:
                self._server.stop()
            self._server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_PENDING = threading.local()


def _tag_fault(request, **_kwargs):
    """Tell the loopback fault server which fault this request meets (before-send hook)."""
    kind = getattr(_PENDING, "kind", None)
    if kind:
        request.headers[_FAULT_HEADER] = kind
    return None


def make(kind: str = "in-process", **kwargs):
    """Build an endpoint by name: ``in-process`` (default) or ``loopback``."""
    if kind == "in-process":
        return InProcessEndpoint(**kwargs)
    if kind == "loopback":
        return LoopbackEndpoint(**kwargs)
    raise BlobeduError(f"unknown endpoint {kind!r}: in-process or loopback")
