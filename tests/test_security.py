"""Loopback only, whatever the environment says: an audit hook on ``socket.connect`` watches every connect.

Each scenario runs in a fresh interpreter whose environment points every AWS and proxy setting at
outside addresses (``10.1.2.3``, a TEST-NET-1 address, and a ``~/.aws/config`` whose profiles set
``endpoint_url``), with ``sys.addaudithook`` recording the address of every ``socket.connect``.
The in-process endpoint must connect nowhere; the loopback endpoint and the live demo only to
127.0.0.1 or ::1.  A connect anywhere else is refused inside the hook, so a leak fails fast and
never reaches the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import READY_SECONDS

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = "http://10.1.2.3:9000"

PRELUDE = r'''
import ipaddress, json, sys
CONNECTS = []

def _hook(event, args):
    if event == "socket.connect":
        address = args[1]
        host = address[0] if isinstance(address, tuple) else str(address)
        CONNECTS.append(host)
        try:
            loopback = ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConnectionRefusedError(f"audit hook: connect to {address!r} refused, not loopback")

sys.addaudithook(_hook)

def report(**extra):
    print(json.dumps(dict(connects=CONNECTS, **extra)))
'''

SCENARIOS = {
    "put in-process": "from blobedu.cli import main\nrc = main(['put', '--fault', '503@0-3', '--json'])\nreport(rc=rc)",
    "put loopback": ("from blobedu.cli import main\n"
                     "rc = main(['put', '--endpoint', 'loopback', '--fault', '503@0-2', '--json'])\nreport(rc=rc)"),
    "deliver": "from blobedu.cli import main\nrc = main(['deliver', '--fault', 'refused@0-10m', '--json'])\nreport(rc=rc)",
    "get in-process": (
        "from blobedu.store import S3BlobStore\n"
        "with S3BlobStore() as s:\n"
        "    key = s.put(b'hello').key\n"
        "    t = s.get(key)\n"
        "report(rc=0 if t.outcome == 'found' else 1)"),
    "get loopback": (
        "from blobedu.endpoint import LoopbackEndpoint\nfrom blobedu.store import S3BlobStore\n"
        "with LoopbackEndpoint() as ep:\n"
        "    s = S3BlobStore(endpoint=ep)\n"
        "    key = s.put(b'hello').key\n"
        "    t = s.get(key)\n"
        "report(rc=0 if t.outcome == 'found' else 1)"),
    "live demo": (
        "from blobedu.live import LiveDemo\n"
        "with LiveDemo() as demo:\n"
        "    a = demo.send().reply\n"
        "    demo.unplug()\n"
        "    b = demo.send().reply\n"
        "    demo.plug()\n"
        "    c = demo.send().reply\n"
        "report(rc=0 if (a[:3], b[:3], c[:3]) == ('250', '451', '250') else 1, replies=[a, b, c])"),
}


@pytest.fixture(scope="module")
def hostile_env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    aws = home / ".aws"
    aws.mkdir()
    (aws / "config").write_text(
        f"[default]\nendpoint_url = {OUTSIDE}\nregion = eu-west-1\n"
        f"[profile hostile]\nendpoint_url = {OUTSIDE}\nservices = hostile-s3\n"
        f"[services hostile-s3]\ns3 =\n  endpoint_url = {OUTSIDE}\n")
    (aws / "credentials").write_text("[default]\naws_access_key_id = AKIAREAL\naws_secret_access_key = real\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HTTP", "http", "NO_PROXY", "no_proxy"))}
    env.update({
        "HOME": str(home),
        "AWS_ENDPOINT_URL": OUTSIDE,
        "AWS_ENDPOINT_URL_S3": OUTSIDE,
        "HTTP_PROXY": "http://10.1.2.3:3128", "HTTPS_PROXY": "http://10.1.2.3:3128",
        "http_proxy": "http://10.1.2.3:3128", "https_proxy": "http://10.1.2.3:3128", "ALL_PROXY": "http://10.1.2.3:3128",
        "AWS_CONFIG_FILE": str(aws / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_USE_DUALSTACK_ENDPOINT": "true",
        # moto's own switches: mock_aws() would then talk to a moto server at this address
        "TEST_SERVER_MODE": "true", "TEST_SERVER_MODE_ENDPOINT": "http://10.1.2.3:5000",
        "TEST_PROXY_MODE": "true", "TEST_PROXY_MODE_ENDPOINT": "http://10.1.2.3:5005",
        "PYTHONIOENCODING": "utf-8",
    })
    return env


def _run(code: str, env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", PRELUDE + code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=READY_SECONDS)
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("profile", ["hostile", "no-such-profile"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_connects_to_loopback_only(name, profile, hostile_env):
    env = dict(hostile_env, AWS_PROFILE=profile)
    result = _run(SCENARIOS[name], env)
    assert result["rc"] == 0, result
    connects = result["connects"]
    assert all(host in ("127.0.0.1", "::1") for host in connects), connects
    if name.endswith("in-process"):
        assert connects == []  # moto answers inside botocore: not one socket
    else:
        assert connects  # it really used sockets, all of them on loopback

def test_the_hook_catches_an_outside_connect(hostile_env):
    """The check can fail: a plain boto3 client built the ordinary way obeys AWS_ENDPOINT_URL and is caught."""
    code = ("import boto3\n"
            "c = boto3.session.Session(aws_access_key_id='x', aws_secret_access_key='y', region_name='us-east-1')"
            ".client('s3', config=__import__('botocore.config').config.Config(retries={'total_max_attempts': 1}, "
            "connect_timeout=1))\n"
            "try:\n    c.list_buckets()\nexcept Exception as exc:\n    pass\n"
            "report(rc=0)")
    result = _run(code, dict(hostile_env, AWS_PROFILE="hostile"))
    assert "10.1.2.3" in result["connects"]
