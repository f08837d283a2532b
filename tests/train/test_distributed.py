import importlib.util
import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from dynpim.data import load_dataset

HERE = os.path.dirname(__file__)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**kw):
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1")
    env.update({k: str(v) for k, v in kw.items()})
    return env


def _two_ranks(tmp_path, variant: str) -> list[dict]:
    """Run the worker as 2 ranks; return their saved weights."""
    port = _free_port()
    worker = os.path.join(HERE, "_ddp_worker.py")
    procs = [subprocess.Popen(
        [sys.executable, worker, str(tmp_path / f"run_{variant}"),
         str(tmp_path / f"{variant}_w{r}.safetensors"), variant],
        env=_env(RANK=r, LOCAL_RANK=r, WORLD_SIZE=2, MASTER_PORT=port),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for r in range(2)]
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, out.decode()[-3000:]
    return [load_file(tmp_path / f"{variant}_w{r}.safetensors") for r in range(2)]


def _one_process(tmp_path, variant: str) -> dict:
    """The same training in this process, the whole global batch at once."""
    spec = importlib.util.spec_from_file_location("_ddp_worker", os.path.join(HERE,
                                                                              "_ddp_worker.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.run(str(tmp_path / f"one_{variant}"), str(tmp_path / f"{variant}_one.safetensors"),
            variant)
    return load_file(tmp_path / f"{variant}_one.safetensors")


def test_two_ranks_agree_and_match_global_batch(tmp_path):
    w0, w1 = _two_ranks(tmp_path, "plain")
    ref = _one_process(tmp_path, "plain")
    for k in ref:
        assert torch.equal(w0[k], w1[k]), k  # ranks hold identical weights
        torch.testing.assert_close(w0[k], ref[k], rtol=1e-5, atol=1e-6)  # = one process
    assert os.path.isdir(tmp_path / "run_plain" / "checkpoint")  # written once, by rank 0


def test_sync_bn_matches_global_batch_and_local_bn_does_not(tmp_path):
    """With --sync-bn, BN statistics (and their gradients) span both ranks: the result equals
    one process with the global batch. Per-rank BN (the default) gives different weights."""
    ref = _one_process(tmp_path, "bn_sync")
    w0, w1 = _two_ranks(tmp_path, "bn_sync")
    for k in ref:
        assert torch.equal(w0[k], w1[k]), k
        torch.testing.assert_close(w0[k], ref[k], rtol=1e-4, atol=1e-5)
    # the trainer wraps the model in DistributedDataParallel (no_sync across the sandwich's
    # sub-nets); each rank evaluates half of the test split and the gathered accuracy equals
    # one process evaluating all of it
    probe = json.load(open(tmp_path / "run_bn_sync.probe.json"))
    one = json.load(open(tmp_path / "one_bn_sync.probe.json"))
    assert probe["wrapper"] == "DistributedDataParallel" and one["wrapper"] == "DynamicNet"
    n_test = len(load_dataset("synthetic").test_y)
    assert probe["shard_size"] == (n_test + 1) // 2 and one["shard_size"] == n_test
    assert [r["top1_test"] for r in probe["rows"]] == [r["top1_test"] for r in one["rows"]]
    local, _ = _two_ranks(tmp_path, "bn_local")
    conv = next(k for k in ref if ref[k].dim() == 4)
    assert (local[conv] - ref[conv]).abs().max() > 1e-4


@pytest.mark.slow
def test_torchrun_cli_smoke(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}", "-m", "dynpim", "train",
           "--dataset", "synthetic", "--batch-size", "64", "--epochs", "1", "--max-steps", "2",
           "--num-random", "1", "--no-progress", "--out", str(out)]
    r = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / "checkpoint" / "meta.json").is_file()
