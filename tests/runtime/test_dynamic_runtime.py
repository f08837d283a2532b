import pytest
import torch

from dynpim.models import create_model
from dynpim.nn import SubnetConfig, calibrate_bn
from dynpim.runtime import Controller, DynamicRuntime, OperatingPoint, OperatingTable


def lenet_table(model):
    pts = []
    for i, r in enumerate((0.25, 0.5, 1.0)):
        cfg = SubnetConfig.uniform(model, r)
        pts.append(OperatingPoint(cfg, 8, 0.8 + 0.05 * i, 1e-3 * r, 1e-4 * r, 0.1 * r))
    return OperatingTable.from_points(pts)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = create_model("lenet")
    batches = [torch.randn(8, *m.input_size) for _ in range(2)]
    for r in (0.25, 0.5, 1.0):
        calibrate_bn(m, SubnetConfig.uniform(m, r), batches)
    return m


def test_runs_the_chosen_subnet(model):
    table = lenet_table(model)
    rt = DynamicRuntime(model, table)
    x = torch.randn(2, *model.input_size)
    assert rt.current == table.most_accurate() and rt.switches == 0
    d = rt.set_budget(power_w=0.06)
    assert d.feasible and rt.current.avg_power_w <= 0.06 and rt.switches == 1
    y = rt(x)
    assert model.current_config == rt.current.config
    with torch.no_grad():
        ref = model.export_subnet(rt.current.config)(x)
    assert torch.allclose(y, ref, atol=1e-5)
    # an outside change of the model config is undone before the next call
    model.set_subnet(model.max_config())
    assert torch.allclose(rt(x), ref, atol=1e-5)
    d = rt.set_budget(power_w=1e-9)
    assert not d.feasible and d.violated == ("power_w",) and rt.current == table.cheapest()
    rt.set_budget(now_s=1e9)  # past the default dwell (hysteresis is on by default)
    assert rt.current == table.most_accurate() and rt.switches == 3
    rt.set_budget(now_s=1e9 + 1)
    assert rt.switches == 3


def test_missing_bn_bank_is_listed(model):
    table = lenet_table(model)
    extra = OperatingPoint(SubnetConfig.uniform(model, 0.75), 8, 0.9, 1e-3, 1e-4, 0.1)
    bigger = OperatingTable.from_points([*table.points, extra])
    with pytest.raises(ValueError, match=extra.config.key):
        DynamicRuntime(model, bigger)


def test_table_for_another_model_rejected(model):
    t = OperatingTable.from_points([OperatingPoint(SubnetConfig([8, 8]), 1, 0.9, 1e-3, 1e-4, 0.1)])
    with pytest.raises(ValueError, match="does not fit model"):
        DynamicRuntime(model, t)


def test_feedback_through_runtime(model):
    table = lenet_table(model)
    rt = DynamicRuntime(model, table, Controller(table, "feedback"))
    rt.set_budget(deadline_s=0.6e-3)
    first = rt.current
    rt.observe(latency_s=first.latency_s * 3)
    rt.set_budget(deadline_s=0.6e-3)
    assert rt.current.latency_s < first.latency_s
    with pytest.raises(ValueError, match="same table"):
        DynamicRuntime(model, table, Controller(lenet_table(model)))
