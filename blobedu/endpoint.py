"""Where S3 requests really go: boto3 to moto, in-process or on a loopback server, faults at the edge.

Two endpoints speak the real S3 API through boto3, with the SDK's own retries turned off
(``total_max_attempts: 1``) so that the only retries are the model's:

* :class:`InProcessEndpoint` (the default): moto's ``mock_aws`` inside this process.  Fast, and it
  works on Binder.  A fault is injected in botocore's ``before-send`` hook, registered first, so the
  SDK sees a real exception (``EndpointConnectionError``, ``ReadTimeoutError``) or a real HTTP
  response with an S3 error body.
* :class:`LoopbackEndpoint`: moto's S3 server (its WSGI app on werkzeug) on 127.0.0.1 and a free port.
  Faults are real sockets: ``refused`` connects to a port that is bound but not listening (the
  kernel answers RST), ``timeout`` to a server that reads the request and never answers, and HTTP
  faults to a small loopback server that answers with that status.

Loopback only: credentials are fake, and an endpoint URL that is not on 127.0.0.0/8 or ::1 is
refused unless the caller passes ``allow_remote=True``.  Nothing here decides whether to retry.

**The guarantee: no configuration can move a request.**  Every boto3 client is built by
:func:`_client` on a *sealed* botocore session, so nothing outside this file decides where it
connects:

* the session's config store reads no environment variable and no file: every botocore session
  variable (profile, region, ``config_file``, ``credentials_file``, ``data_path``, FIPS, dual-stack,
  the ``s3`` and ``proxies_config`` sections...) is its built-in default or a value set here, and the
  config and credentials files are ``os.devnull``.  ``AWS_PROFILE``, ``AWS_CONFIG_FILE``,
  ``~/.aws/config`` and ``AWS_DATA_PATH`` are never read, so a missing profile cannot crash a run;
* service models and endpoint rules come from botocore's own ``data`` directory only, never from
  ``~/.aws/models``;
* ``Config(ignore_configured_endpoint_urls=True)``: ``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3``
  and a profile's ``endpoint_url`` are ignored (botocore ``args.py``, ``_compute_configured_endpoint_url``);
* ``Config(proxies={})``: botocore reads ``HTTP_PROXY``/``HTTPS_PROXY`` (urllib's
  ``getproxies``) only when ``proxies`` is None (``EndpointCreator.create_endpoint``,
  botocore/endpoint.py), so no proxy is ever used;
* credentials are passed explicitly (fake), so no credential provider runs (no IMDS, no SSO);
* moto's in-process mock is used directly, so ``TEST_SERVER_MODE``/``TEST_PROXY_MODE`` cannot turn
  it into a client of a moto server somewhere else;
* the in-process client has no HTTP session at all: moto's stubber answers in botocore's
  ``before-send`` event, and a request nothing answered reaches :class:`_NoNetwork`, which refuses
  it instead of opening a socket.

``tests/test_security.py`` proves it with ``sys.addaudithook`` on ``socket.connect``: with those
variables pointing at outside addresses, put, deliver, get and the live demo connect to loopback only.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import urlparse

import boto3
import botocore.exceptions
import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.configprovider import (BOTOCORE_DEFAUT_SESSION_VARIABLES, ChainProvider, ConfigValueStore,
                                     ConstantProvider, InstanceVarProvider)
from botocore.loaders import Loader

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

#: How often the loopback servers check for a shutdown request (seconds).
_POLL = 0.01

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


#: botocore's own data files only: not ``~/.aws/models`` nor ``AWS_DATA_PATH``, where a service model or
#: an ``endpoints.json`` could redirect requests.  One loader for every client: each parsed model is
#: then held once, not once per client.
_LOADER = Loader(extra_search_paths=[Loader.BUILTIN_DATA_PATH], include_default_search_paths=False)


def _sealed_session() -> botocore.session.Session:
    """A botocore session whose settings come from no environment variable and no file (see the module doc)."""
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    mapping = {}
    for name, (_file_key, _env, default, convert) in BOTOCORE_DEFAUT_SESSION_VARIABLES.items():
        # only what this process sets on the session (set_config_variable), else botocore's default
        mapping[name] = ChainProvider([InstanceVarProvider(name, core), ConstantProvider(default)], convert)
    mapping["config_file"] = ConstantProvider(os.devnull)
    mapping["credentials_file"] = ConstantProvider(os.devnull)
    mapping["profile"] = ConstantProvider(None)
    mapping["s3"] = ConstantProvider(None)
    mapping["proxies_config"] = ConstantProvider(None)
    core.register_component("config_store", ConfigValueStore(mapping))
    return core


def _client(endpoint_url: Optional[str], timeout: float):
    """A boto3 S3 client that connects where ``endpoint_url`` says and nowhere else (None: moto in-process)."""
    if timeout != timeout or timeout <= 0 or timeout == float("inf"):
        raise BlobeduError(f"socket timeout must be a finite number of seconds above 0, got {timeout}")
    config = Config(
        region_name=REGION,
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=timeout,
        read_timeout=timeout,
        s3={"addressing_style": "path"},
        proxies={},  # not None: botocore would fall back to HTTP_PROXY/HTTPS_PROXY
        ignore_configured_endpoint_urls=True,  # AWS_ENDPOINT_URL(_S3), a profile's endpoint_url
    )
    session = boto3.session.Session(botocore_session=_sealed_session(), region_name=REGION, **FAKE_CREDENTIALS)
    return session.client("s3", region_name=REGION, endpoint_url=endpoint_url, config=config)


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
    except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError):
        # refused, or a connection reset or closed before the answer (ConnectionClosedError,
        # ResponseStreamingError), e.g. when S3 is unplugged mid-request: a transport error, which
        # rust-s3 and Stalwart treat like a refused connect (the plots draw both as one marker)
        return Reply(error="refused")


#: Faults whose request never reaches any server: the in-process endpoint answers them without botocore.
_NEVER_SENT = ("refused", "timeout")


class InProcessEndpoint:
    """moto's ``mock_aws`` in this process; faults injected in botocore's ``before-send`` hook."""

    kind = "in-process"

    def __init__(self, bucket: str | None = None) -> None:
        # moto's in-process mock itself, not mock_aws(): with TEST_SERVER_MODE=true or TEST_PROXY_MODE=true
        # in the environment, mock_aws() returns a mock that talks to a moto server at an address the
        # environment names (TEST_SERVER_MODE_ENDPOINT)
        from moto.core.models import MockAWS

        self.bucket = bucket or _fresh_bucket()
        self._mock = MockAWS()
        self._mock.start()
        self._open = True
        self._fault: Optional[Fault] = None
        #: keys some PUT carried to moto's backend (see :meth:`exists`)
        self._put_keys: set[str] = set()
        self._client = _client(None, 30.0)
        self._client.meta.events.register_first("before-send.s3", self._before_send)
        # botocore sends through http_session only when no before-send handler answered; moto's
        # stubber answers every request it knows, so whatever reaches this is refused, never sent.
        self._client._endpoint.http_session = _NoNetwork()
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
        if not self._open:
            raise BlobeduError("moto's in-process mock is not active; refusing to send: nothing may reach real AWS")
        if fault is not None and fault.kind in _NEVER_SENT:
            # The request never leaves: _before_send would raise botocore's EndpointConnectionError or
            # ReadTimeoutError and _call would translate it to exactly this Reply.  Building and signing it
            # first costs several ms of CPU, and a spool uploader retrying through an hour-long outage
            # sends hundreds (benchmarks/redraw.py, notebook 04's panel).
            # tests/test_endpoint_shortcuts.py holds both paths to the same reply.
            return Reply(error=fault.kind), time.monotonic() - t0
        if method == "PUT" and not (fault is not None and (fault.kind == "lost-write" or fault.status)):
            self._put_keys.add(key)  # this PUT reaches moto's backend: the key may be stored
        self._fault = fault
        try:
            reply = _call(self._client, method, self.bucket, key, body)
        finally:
            self._fault = None
        return reply, time.monotonic() - t0

    def exists(self, key: str) -> bool:
        """Whether the object is really in S3 (read back from moto, no fault).

        A key no PUT ever carried to moto's backend (every PUT goes through :meth:`send`) is not there:
        answered without a HEAD, which costs as much as the PUT (a store trace asks after every PUT,
        refused ones included).  Any other key is read back from moto.
        """
        if key not in self._put_keys:
            return False
        return _call(self._client, "HEAD", self.bucket, key, b"").status == 200

    def keys(self) -> list[str]:
        """Every object key in the bucket."""
        listing = self._client.list_objects_v2(Bucket=self.bucket)
        return [o["Key"] for o in listing.get("Contents", [])]

    def reset(self) -> None:
        """Empty the bucket, so that a run on a reused endpoint starts from nothing (blob keys repeat).

        Only a PUT through :meth:`send` stores anything in this endpoint's bucket, and every such key
        is in ``_put_keys`` (what :meth:`exists` relies on too): those are deleted, without first
        listing the bucket, a request that costs as much as a PUT on every panel run.
        """
        for key in sorted(self._put_keys):
            self._client.delete_object(Bucket=self.bucket, Key=key)
        self._put_keys.clear()

    def close(self) -> None:
        """Stop moto's mock."""
        if self._open:
            self._open = False
            self._mock.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _NoNetwork:
    """The in-process client's HTTP session: it has no sockets, so a request moto did not answer goes nowhere."""

    def send(self, request):
        raise BlobeduError(f"moto's in-process mock did not answer {request.method} {request.url}; refusing to "
                           "send it over the network: the in-process endpoint never connects anywhere")

    def close(self) -> None:
        pass


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


class _MotoServer:
    """moto's S3 API on a threaded werkzeug server on 127.0.0.1, the way ``ThreadedMotoServer`` runs it, except:

    * :meth:`stop` pulls the plug: it closes the listening socket *and* every open connection, so a
      kept-alive connection cannot go on answering from an "unplugged" S3, and a request in flight
      meets a closed connection, as it would when a real S3 node goes away;
    * the WSGI app is passed in, so plugging back in reuses moto's apps instead of building new ones;
    * shutdown polls every 10 ms, not 500 ms (unplug is a click in notebook 00; a 200-cycle test runs it).
    """

    def __init__(self, app, port: int = 0) -> None:
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", port, app, threaded=True)
        self.port = self._server.server_address[1]
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        serve_request = self._server.process_request

        def process_request(request, client_address):
            with self._conn_lock:
                self._connections.add(request)
            serve_request(request, client_address)

        close_request = self._server.shutdown_request

        def shutdown_request(request):
            with self._conn_lock:
                self._connections.discard(request)
            close_request(request)

        self._server.process_request = process_request
        self._server.shutdown_request = shutdown_request
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": _POLL},
                                        name="blobedu-moto", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close the listening socket and every open connection."""
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
        with self._conn_lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class LoopbackEndpoint:
    """A real S3 API over TCP on 127.0.0.1: moto's server, plus real refused and silent sockets."""

    kind = "loopback"

    def __init__(self, bucket: str | None = None, url: Optional[str] = None, allow_remote: bool = False,
                 virtual_timeout: float = 0.2) -> None:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on stderr

        self._owns_bucket = bucket is None
        self.bucket = bucket or _fresh_bucket()
        self._server: Optional[_MotoServer] = None
        self._app = None
        self._running = url is None
        if url is None:
            from moto.server import DomainDispatcherApplication, create_backend_app

            self._app = DomainDispatcherApplication(create_backend_app)
            self._server = _MotoServer(self._app)
            url = f"http://127.0.0.1:{self._server.port}"
        self.url = ensure_loopback(url, allow_remote)
        # refused: a port bound but never listening; the kernel answers the SYN with RST.
        self._dead = socket.socket()
        self._dead.bind(("127.0.0.1", 0))
        self.refused_url = f"http://127.0.0.1:{self._dead.getsockname()[1]}"
        # HTTP faults and the silent socket
        self._faults = ThreadingHTTPServer(("127.0.0.1", 0), _FaultHandler)
        self._faults.daemon_threads = True
        self._faults.stop_event = threading.Event()
        self._faults_thread = threading.Thread(target=self._faults.serve_forever, kwargs={"poll_interval": _POLL},
                                               daemon=True)
        self._faults_thread.start()
        self.fault_url = f"http://127.0.0.1:{self._faults.server_address[1]}"
        self.virtual_timeout = virtual_timeout
        self._clients: dict[tuple[str, float], object] = {}
        self._lock = threading.Lock()
        self._client_for(self.url, 30.0).create_bucket(Bucket=self.bucket)

    def _socket_timeout(self, timeout: float, real_time: bool, silent: bool) -> float:
        """The real socket timeout of one request.

        On the real clock it is the model's timeout.  On a virtual clock the model alone decides
        what times out (the ``timeout`` fault, or a latency at or above the timeout), so a request
        S3 answers gets a generous real wait: a slow machine must not turn a stored blob into a
        timeout (and the blob would then be in S3 although the PUT "failed").  Only the silent
        socket is given up after ``virtual_timeout`` real seconds.
        """
        if real_time:
            return timeout
        return self.virtual_timeout if silent else VIRTUAL_SOCKET_TIMEOUT

    def prepare(self, timeout: float, real_time: bool = False) -> None:
        """Build the boto3 clients a run will use, so that building them costs no request any time."""
        for url in (self.url, self.refused_url, self.fault_url):
            self._client_for(url, self._socket_timeout(timeout, real_time, silent=False))
        self._client_for(self.fault_url, self._socket_timeout(timeout, real_time, silent=True))

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
        silent = fault is not None and fault.kind == "timeout"
        socket_timeout = self._socket_timeout(timeout, real_time, silent)
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
        """Pull the plug: stop the moto server and drop every connection, so every request meets a real
        refused connection (and one in flight a closed one)."""
        if self._server is None or not self._running:
            raise BlobeduError("this loopback S3 is not one blobedu started, or it is already unplugged")
        self._server.stop()
        self._running = False
        self._drop_pooled_connections()

    def plug(self) -> None:
        """Plug it back in: start the moto server again on the same port; moto keeps the bucket."""
        if self._server is None or self._running:
            raise BlobeduError("this loopback S3 is not one blobedu started, or it is already running")
        self._server = _MotoServer(self._app, urlparse(self.url).port)
        self._running = True

    def _drop_pooled_connections(self) -> None:
        """Close the clients' kept-alive connections (a new request opens a new one)."""
        with self._lock:
            clients = list(self._clients.values())
        for client in clients:
            client.close()

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
        """Stop the servers, free the ports, and forget this endpoint's bucket (moto's state is process-wide)."""
        if self._server is not None and self._running and self._owns_bucket:
            self._forget_bucket()
        self._faults.stop_event.set()
        self._faults.shutdown()
        self._faults.server_close()
        self._faults_thread.join(timeout=5)
        self._dead.close()
        if self._server is not None:
            if self._running:
                self._server.stop()
            self._server = None
            self._running = False
        self._drop_pooled_connections()
        with self._lock:
            self._clients.clear()

    def _forget_bucket(self) -> None:
        client = self._client_for(self.url, 30.0)
        try:
            for key in self.keys():
                client.delete_object(Bucket=self.bucket, Key=key)
            client.delete_bucket(Bucket=self.bucket)
        except (botocore.exceptions.ClientError, botocore.exceptions.ConnectionError,
                botocore.exceptions.HTTPClientError):
            pass  # only memory is at stake

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


#: The real wait for an answer on a virtual clock (see :meth:`LoopbackEndpoint._socket_timeout`).
VIRTUAL_SOCKET_TIMEOUT = 30.0

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
