"""Fault specs and which fault a request meets (blobedu.faults). Pure: no moto."""

from __future__ import annotations

import pytest

from blobedu.errors import BlobeduError
from blobedu.faults import Fault, FaultPlan, parse, plan


@pytest.mark.parametrize(
    "spec, kind, start, end",
    [
        ("503@0-5", "503", 0.0, 5.0),
        ("refused@30m-2h", "refused", 1800.0, 7200.0),
        ("timeout@0", "timeout", 0.0, None),
        ("lost-write@1h", "lost-write", 3600.0, None),
        ("crash@30m", "crash", 1800.0, None),
        ("disk-full@1m-2m", "disk-full", 60.0, 120.0),
        ("500@7s-1d", "500", 7.0, 86400.0),
        ("429@250ms-1", "429", 0.25, 1.0),
        ("403@0", "403", 0.0, None),
        ("404@0-1", "404", 0.0, 1.0),
        ("disk-loss@3d", "disk-loss", 3 * 86400.0, None),
    ],
)
def test_good_specs(spec, kind, start, end):
    assert parse(spec) == Fault(kind, start, end)


def test_status_property():
    assert parse("503@0").status == 503
    assert parse("refused@0").status is None
    assert parse("lost-write@0").status is None


def test_s3_and_receiver_kinds():
    assert parse("503@0").is_s3 and parse("refused@0").is_s3 and parse("lost-write@0").is_s3
    assert not parse("crash@0").is_s3 and not parse("disk-full@0-1").is_s3


ALLOWED = ["refused", "timeout", "lost-write", "500", "503", "429", "403", "crash", "disk-loss", "disk-full"]


@pytest.mark.parametrize("spec", ["bogus@1", "200@0", "600@0", "Refusedx@1"])
def test_unknown_kind_names_the_allowed_kinds(spec):
    with pytest.raises(BlobeduError) as info:
        parse(spec)
    message = str(info.value)
    assert spec in message or spec.lower() in message
    for kind in ALLOWED:
        assert kind in message


@pytest.mark.parametrize(
    "spec, why",
    [
        ("503@5-1", "END must be after START"),
        ("503@5-5", "END must be after START"),
        ("crash@1-2", "one moment"),
        ("disk-loss@1-2", "one moment"),
        ("503@x", "bad duration"),
        ("503@0-x", "bad duration"),
        ("503", "KIND@START"),
        ("@5", "KIND@START"),
        ("503@", "KIND@START"),
        ("503@-5", "KIND@START"),
        ("", "KIND@START"),
    ],
)
def test_bad_specs_raise_and_say_why(spec, why):
    with pytest.raises(BlobeduError) as info:
        parse(spec)
    message = str(info.value)
    assert why in message
    assert repr(spec) in message  # names the spec the reader typed
    assert "\n" not in message


def test_specs_round_trip():
    for spec in ["503@0-5", "refused@30m-2h", "timeout@0", "crash@30m", "disk-full@1m-2m"]:
        fault = parse(spec)
        assert parse(fault.spec()) == fault


# ---------------------------------------------------------------- windows
def test_window_is_half_open():
    f = parse("503@10-20")
    assert not f.active(9.999)
    assert f.active(10.0)
    assert f.active(19.999)
    assert not f.active(20.0)


def test_open_ended_window_lasts_forever():
    f = parse("refused@1h")
    assert not f.active(3599.0)
    assert f.active(3600.0) and f.active(10**9)


def test_last_listed_active_fault_wins():
    p = FaultPlan(["503@0-100", "refused@10-20", "timeout@15-30"])
    assert p.s3_fault_at(5).kind == "503"
    assert p.s3_fault_at(10).kind == "refused"
    assert p.s3_fault_at(15).kind == "timeout"  # listed after refused: wins where both hold
    assert p.s3_fault_at(20).kind == "timeout"
    assert p.s3_fault_at(30).kind == "503"  # timeout's window is over at 30 (half-open)
    assert p.s3_fault_at(100) is None


def test_order_not_start_time_decides():
    p = FaultPlan(["refused@10-20", "503@0-100"])
    assert p.s3_fault_at(15).kind == "503"  # 503 is listed last, so it overlays refused


def test_receiver_faults_never_meet_s3_requests():
    p = FaultPlan(["crash@0", "disk-full@0-10"])
    assert p.s3_fault_at(5) is None
    assert p.disk_full_at(5) and not p.disk_full_at(10)
    assert [f.kind for f in p.receiver] == ["crash", "disk-full"]


def test_require_s3_only():
    FaultPlan(["503@0"]).require_s3_only("blobedu put")
    with pytest.raises(BlobeduError, match="crash"):
        FaultPlan(["503@0", "crash@1"]).require_s3_only("blobedu put")


def test_plan_accepts_specs_faults_plans_and_none():
    p = FaultPlan(["503@0-5"])
    assert plan(p) is p
    assert plan(None).faults == ()
    assert plan([Fault("503", 0, 5)]).faults == p.faults
    assert plan(["503@0-5"]).specs() == p.specs()


def test_bad_spec_in_plan_raises():
    with pytest.raises(BlobeduError):
        FaultPlan(["503@0", "bogus@1"])
