import pytest

from dynpim.data import load_dataset
from dynpim.train import TrainConfig


@pytest.fixture(scope="session")
def synth():
    return load_dataset("synthetic")


@pytest.fixture
def tiny_cfg(tmp_path):
    def make(**kw):
        base = dict(model="lenet", dataset="synthetic", epochs=2, batch_size=64, lr=0.05,
                    calib_batches=2, progress=False, out=str(tmp_path / "run"), num_random=1)
        base.update(kw)
        return TrainConfig(**base)
    return make
