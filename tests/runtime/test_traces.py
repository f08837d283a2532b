import numpy as np
import pytest

from dynpim.runtime import Trace, generate, parse_spec


def test_generators_shapes_and_values():
    r = parse_spec("ramp:duration_s=10,start_w=0.5,end_w=0.05,rate_hz=100")
    assert r.time_s[0] == 0 and r.end_s == 10 and len(r) == 101
    assert r.power_cap_w[0] == pytest.approx(0.5) and r.power_cap_w[-1] == pytest.approx(0.05)
    assert np.all(np.diff(r.power_cap_w) <= 0) and np.all(r.arrival_rate_hz == 100)
    s = generate("step", duration_s=4, dt_s=1, start_w=1, end_w=0.2)
    assert list(s.power_cap_w) == [1, 1, 0.2, 0.2, 0.2]
    w1 = parse_spec("walk:seed=3,min_w=0.1,max_w=0.3,sigma_w=0.1")
    w2 = parse_spec("walk:seed=3,min_w=0.1,max_w=0.3,sigma_w=0.1")
    w3 = parse_spec("walk:seed=4,min_w=0.1,max_w=0.3,sigma_w=0.1")
    assert np.array_equal(w1.power_cap_w, w2.power_cap_w)
    assert not np.array_equal(w1.power_cap_w, w3.power_cap_w)
    assert w1.power_cap_w.min() >= 0.1 and w1.power_cap_w.max() <= 0.3
    sn = generate("sine", mean_w=0.1, amplitude_w=0.3, period_s=2)
    assert sn.power_cap_w.min() == 0 and sn.power_cap_w.max() == pytest.approx(0.4, rel=1e-2)
    b = parse_spec("battery:capacity_j=2,cap_w=1,deadline_s=0.01")
    assert b.battery_capacity_j == 2 and np.all(b.deadline_s == 0.01)


def test_uneven_duration_ends_exactly():
    t = generate("ramp", duration_s=1.05, dt_s=0.1)
    assert t.end_s == 1.05 and np.all(np.diff(t.time_s) > 0)


@pytest.mark.parametrize("spec,msg", [
    ("zigzag:", "kind"),
    ("ramp:slope=3", "unknown parameter.*slope"),
    ("ramp:start_w=-1", "start_w"),
    ("ramp:start_w=abc", "start_w"),
    ("ramp:start_w", "key=value"),
    ("walk:min_w=2,max_w=1", "min_w"),
    ("ramp:duration_s=0", "duration_s"),
])
def test_bad_specs(spec, msg):
    with pytest.raises(ValueError, match=msg):
        parse_spec(spec)


def test_csv_roundtrip(tmp_path):
    t = parse_spec("battery:capacity_j=2.5,cap_w=0.3,deadline_s=0.02,duration_s=2")
    p = tmp_path / "t.csv"
    t.save_csv(p)
    text = p.read_text()
    head = "# battery_capacity_j=2.5\ntime_s,power_cap_w,arrival_rate_hz,deadline_s"
    assert text.startswith(head)
    back = Trace.load_csv(p)
    assert back.battery_capacity_j == 2.5
    for c in ("time_s", "power_cap_w", "arrival_rate_hz", "deadline_s"):
        assert np.array_equal(getattr(back, c), getattr(t, c))


@pytest.mark.parametrize("body,msg", [
    ("time_s,power_cap_w\n0,1\n1,1\n", "missing column.*arrival_rate_hz"),
    ("time_s,power_w,arrival_rate_hz\n0,1,1\n1,1,1\n", "missing column.*power_cap_w"),
    ("time_s,power_cap_w,arrival_rate_hz,foo\n0,1,1,1\n1,1,1,1\n", "unknown column.*foo"),
    ("time_s,power_cap_w,arrival_rate_hz\n0,1,1\n0,1,1\n", "strictly increasing.*row 1"),
    ("time_s,power_cap_w,arrival_rate_hz\n0,1,1\n2,1,1\n1,1,1\n", "strictly increasing.*row 2"),
    ("time_s,power_cap_w,arrival_rate_hz\n0,-1,1\n1,1,1\n", "power_cap_w.*row 0"),
    ("time_s,power_cap_w,arrival_rate_hz\n0,1,x\n1,1,1\n", "line 2.*arrival_rate_hz"),
    ("time_s,power_cap_w,arrival_rate_hz\n0,1,1\n", "at least 2 rows"),
    ("time_s,power_cap_w,arrival_rate_hz\n0,1\n1,1,1\n", "line 2 has 2 fields"),
    ("", "empty"),
    ("# battery_capacity_j=-3\ntime_s,power_cap_w,arrival_rate_hz\n0,1,1\n1,1,1\n",
     "battery_capacity_j"),
])
def test_bad_csv_rejected(tmp_path, body, msg):
    p = tmp_path / "bad.csv"
    p.write_text(body)
    with pytest.raises(ValueError, match=msg):
        Trace.load_csv(p)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        Trace.load_csv(tmp_path / "nope.csv")
