import pytest

from dynpim.train import TrainConfig


def test_yaml_roundtrip_and_overrides(tmp_path):
    cfg = TrainConfig(epochs=3, lr=0.2, eval_widths=(0.5, 1.0))
    p = str(tmp_path / "run.yaml")
    cfg.save(p)
    assert TrainConfig.from_file(p) == cfg
    assert TrainConfig.from_file(p, epochs=7).epochs == 7
    (tmp_path / "sci.yaml").write_text("lr: 1e-3\nweight-decay: 4e-5\n")
    c = TrainConfig.from_file(str(tmp_path / "sci.yaml"))
    assert c.lr == 1e-3 and c.weight_decay == 4e-5


@pytest.mark.parametrize("kw,msg", [
    ({"mode": "slim"}, "mode must be one of"),
    ({"lr": -1.0}, "lr must be > 0"),
    ({"lr": "fast"}, "lr must be a finite number"),
    ({"epochs": 0}, "epochs must be an integer >= 1"),
    ({"min_width": 0.9, "max_width": 0.5}, "min_width <= max_width"),
    ({"width": 1.5, "mode": "individual"}, r"width must be in \(0, 1\]"),
    ({"mode": "individual"}, "needs width"),
    ({"sampling": "nonuniform"}, "needs configs"),
    ({"label_smoothing": 1.0}, "label_smoothing must be in"),
    ({"eval_widths": (0.0, 1.0)}, "eval_widths"),
    ({"train_widths": (0.5, 1.2)}, r"train_widths must be in \(0, 1\]"),
    ({"train_widths": "0.5"}, "train_widths must be a list"),
    ({"sampling": "discrete", "train_widths": ()}, "needs train_widths"),
    ({"subnet_loss": "kd"}, "subnet_loss must be one of"),
])
def test_bad_values_name_the_field(kw, msg):
    with pytest.raises(ValueError, match=msg):
        TrainConfig(**kw)


def test_unknown_keys_and_bad_yaml(tmp_path):
    with pytest.raises(ValueError, match=r"unknown training option\(s\) \['lrr'\]"):
        TrainConfig.from_dict({"lrr": 0.1})
    (tmp_path / "bad.yaml").write_text("lr: [1, \n")
    with pytest.raises(ValueError, match="not valid YAML"):
        TrainConfig.from_file(str(tmp_path / "bad.yaml"))
    (tmp_path / "num.yaml").write_text("lr: abc\n")
    with pytest.raises(ValueError, match="lr must be a number"):
        TrainConfig.from_file(str(tmp_path / "num.yaml"))
