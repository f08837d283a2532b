"""Operating points over (config, precision, active sub-arrays): table, JSON, runtime."""

import torch

from dynpim import pim
from dynpim.models import create_model
from dynpim.runtime import DynamicRuntime, OperatingTable
from dynpim.search import HoldoutEvaluator
from dynpim.stages import build_operating_table


def test_table_over_precisions_and_runtime_switches_both_knobs(tmp_path):
    torch.manual_seed(0)
    model = create_model("lenet", in_channels=1, image_size=12, wbits=8, abits=8,
                         precisions=[(4, 4), (2, 2)])
    x, y = torch.randn(40, 1, 12, 12), torch.randint(0, 10, (40,))
    model.train()
    model(x)
    ev = HoldoutEvaluator(x, y, [x[:20]], keep_stats=True)
    cfgs = [model.min_config(), model.max_config()]
    hw = pim.load_preset("sot-mram")
    table = build_operating_table(model, cfgs, hw, ev, levels=[hw.architecture.subarrays],
                                  input_size=(1, 12, 12), pareto=False,
                                  precisions=[None, (4, 4), (2, 2)])
    assert len(table) == 6 and {p.bits for p in table} == {None, (4, 4), (2, 2)}
    low = next(p for p in table if p.bits == (2, 2) and p.config == cfgs[1])
    top = next(p for p in table if p.bits is None and p.config == cfgs[1])
    assert low.energy_j < top.energy_j and low.latency_s < top.latency_s
    assert low.key.startswith(cfgs[1].key + "-w2a2@")
    path = tmp_path / "t.json"
    table.save(str(path))
    again = OperatingTable.load(str(path))
    assert [p.bits for p in again] == [p.bits for p in table]
    rt = DynamicRuntime(model, again)
    rt.switch_to(next(p for p in again if p.key == low.key))
    assert model.current_precision == (2, 2) and model.current_config == cfgs[1]
    out = rt(x[:3])
    with torch.no_grad(), model.subnet(cfgs[1], bits=(2, 2)):
        assert torch.equal(out, model.eval()(x[:3]))
    assert rt.info()["bits"] == (2, 2)


def test_cli_trains_and_tables_precisions(tmp_path, capsys):
    from dynpim.cli import main

    run = tmp_path / "run"
    assert main(["train", "--model", "lenet", "--wbits", "4", "--abits", "4", "--precisions",
                 "2/2", "--epochs", "1", "--max-steps", "2", "--batch-size", "32",
                 "--calib-batches", "1", "--no-progress", "--out", str(run)]) == 0
    out = tmp_path / "t.json"
    assert main(["table", "--checkpoint", str(run), "--out", str(out), "--all-points",
                 "--calib-batches", "1", "--active-levels", "512"]) == 0
    table = OperatingTable.load(str(out))
    assert {p.bits for p in table} == {None, (2, 2)}
    assert main(["table", "--checkpoint", str(run), "--out", str(tmp_path / "u.json"),
                 "--precisions", "3/3"]) == 2
    assert "not one of the model's 4/4, 2/2" in capsys.readouterr().err


def test_cli_defaults_match_the_controller_and_help_needs_no_torch():
    import subprocess
    import sys

    from dynpim.cli import runtime as cli_runtime
    from dynpim.runtime import controller

    assert cli_runtime.DEFAULT_MARGIN == controller.DEFAULT_MARGIN
    assert cli_runtime.DEFAULT_MIN_DWELL_S == controller.DEFAULT_MIN_DWELL_S
    code = ("import sys; from dynpim.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"  # registration imports no torch
