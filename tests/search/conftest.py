import copy

import pytest

from dynpim.data import load_dataset
from dynpim.train import TrainConfig, calibration_batches, train


@pytest.fixture(scope="session")
def synth():
    return load_dataset("synthetic")


@pytest.fixture(scope="session")
def trained(tmp_path_factory, synth):
    """A small dynamic LeNet trained briefly on the synthetic data, plus its checkpoint dir."""
    out = tmp_path_factory.mktemp("search_run") / "run"
    cfg = TrainConfig(model="lenet", width_mult=0.25, dataset="synthetic", epochs=3,
                      batch_size=64, lr=0.05, calib_batches=2, progress=False, out=str(out),
                      num_random=1)
    res = train(cfg, splits=synth)
    return res.model, str(out / "checkpoint")


@pytest.fixture
def model(trained):
    return copy.deepcopy(trained[0])


@pytest.fixture(scope="session")
def calib(synth):
    return calibration_batches(synth, batch_size=64, num_batches=2)
