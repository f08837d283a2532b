import pytest

from dynpim import pim
from dynpim.nn import SubnetConfig
from dynpim.runtime import DynamicRuntime, OperatingTable
from dynpim.search import HoldoutEvaluator
from dynpim.stages import active_levels, build_operating_table


def test_table_round_trip_and_pareto(model, synth, calib, tmp_path):
    hw = pim.load_preset("sot-mram")
    levels = active_levels(hw, count=3, factor=2)
    total = hw.architecture.subarrays
    assert levels == sorted({total, total // 2, total // 4})
    assert active_levels(hw) == sorted({total // 4**i for i in range(5)})
    cfgs = [SubnetConfig.uniform(model, r) for r in (0.25, 0.5, 0.75, 1.0)]
    ev = HoldoutEvaluator(synth.test_x, synth.test_y, calib, keep_stats=True)
    full = build_operating_table(model, cfgs, hw, ev, levels=levels, pareto=False)
    assert len(full) <= len(cfgs) * len(levels)
    sigs = [(p.config, p.latency_s, p.energy_j, p.avg_power_w, p.peak_power_w) for p in full]
    assert len(set(sigs)) == len(sigs)  # no level repeating another level's figures
    table = build_operating_table(model, cfgs, hw, ev, levels=levels)
    assert 1 <= len(table) <= len(full)
    assert {p.key for p in table} == {p.key for p in full.pareto()}
    for p in table:
        assert p.peak_power_w >= p.avg_power_w and p.macs == model.macs(p.config)
    path = tmp_path / "table.json"
    table.save(path)
    back = OperatingTable.load(path)
    assert [p.to_dict() for p in back] == [p.to_dict() for p in table]
    assert back.meta["model"] == "lenet" and back.meta["active_levels"] == levels
    rt = DynamicRuntime(model, back)  # BN statistics are banked for every table config
    assert rt.current.accuracy == max(p.accuracy for p in back)


def test_active_levels_checked():
    hw = pim.load_preset("sot-mram")
    with pytest.raises(ValueError, match="active sub-array levels"):
        active_levels(hw, [0, 4])
    assert active_levels(hw, [8, 4, 8]) == [4, 8]


def test_table_selects_on_validation_and_reports_test(model, synth, calib):
    hw = pim.load_preset("sot-mram")
    cfgs = [SubnetConfig.uniform(model, r) for r in (0.25, 0.5, 1.0)]
    val = HoldoutEvaluator(synth.validation_x, synth.validation_y, calib, keep_stats=True)
    test = HoldoutEvaluator(synth.test_x, synth.test_y, calib)
    with pytest.raises(ValueError, match="split test.*validation"):
        build_operating_table(model, cfgs, hw, val, levels=[64], split="test")
    full = build_operating_table(model, cfgs, hw, val, levels=[64], pareto=False, report=test)
    assert full.meta["accuracy_split"] == "validation"
    assert full.meta["test_accuracy_split"] == "test"
    by_cfg = dict(zip(cfgs, test(model, cfgs)))
    assert [p.test_accuracy for p in full] == [by_cfg[p.config] for p in full]
    assert [p.accuracy for p in full] == [dict(zip(cfgs, val(model, cfgs)))[p.config]
                                          for p in full]
    # the Pareto filter reads validation only: replacing test accuracies changes nothing
    plain = build_operating_table(model, cfgs, hw, val, levels=[64])
    assert [p.key for p in build_operating_table(model, cfgs, hw, val, levels=[64],
                                                 report=test)] == [p.key for p in plain]
    assert all(p.test_accuracy is None for p in plain) and plain.test_accuracies() is None
