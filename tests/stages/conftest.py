import pytest

from dynpim.data import load_dataset
from dynpim.train import TrainConfig, train


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A small dynamic LeNet trained briefly on the synthetic data: its checkpoint dir."""
    out = tmp_path_factory.mktemp("stages_run") / "run"
    cfg = TrainConfig(model="lenet", width_mult=0.25, dataset="synthetic", epochs=1,
                      batch_size=64, lr=0.05, calib_batches=2, progress=False, out=str(out),
                      num_random=1)
    train(cfg, splits=load_dataset("synthetic"))
    return str(out / "checkpoint")
