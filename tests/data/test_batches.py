import pytest
import torch

from dynpim.data import Augment, iterate_batches


def _data(n=10):
    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    return x, torch.arange(n)


def test_plain_batches_cover_everything_in_order():
    x, y = _data()
    bs = list(iterate_batches(x, y, 4))
    assert [len(b[1]) for b in bs] == [4, 4, 2]
    assert torch.equal(torch.cat([b[1] for b in bs]), y)
    assert [len(b[1]) for b in iterate_batches(x, y, 4, drop_last=True)] == [4, 4]


def test_shuffle_is_seeded():
    x, y = _data()
    a = [b[1] for b in iterate_batches(x, y, 3, shuffle=True,
                                       generator=torch.Generator().manual_seed(1))]
    b = [b[1] for b in iterate_batches(x, y, 3, shuffle=True,
                                       generator=torch.Generator().manual_seed(1))]
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert sorted(torch.cat(a).tolist()) == list(range(10))


def test_shards_reassemble_global_batch_with_augmentation():
    x = torch.randn(12, 2, 5, 5)
    y = torch.arange(12)
    aug = Augment(crop_padding=1, flip=True)

    def run(rank, world):
        g = torch.Generator().manual_seed(3)
        return list(iterate_batches(x, y, 4, shuffle=True, generator=g, augment=aug,
                                    rank=rank, world_size=world, drop_last=True))

    full = run(0, 1)
    r0, r1 = run(0, 2), run(1, 2)
    for f, a, b in zip(full, r0, r1):
        assert torch.equal(f[0], torch.cat([a[0], b[0]]))
        assert torch.equal(f[1], torch.cat([a[1], b[1]]))


def test_start_batch_skips_but_keeps_draws():
    x = torch.randn(12, 1, 4, 4)
    y = torch.arange(12)
    aug = Augment(crop_padding=1)

    def run(start):
        g = torch.Generator().manual_seed(5)
        return list(iterate_batches(x, y, 3, shuffle=True, generator=g, augment=aug,
                                    start_batch=start))

    full, tail = run(0), run(2)
    assert len(tail) == 2
    assert all(torch.equal(a[0], b[0]) for a, b in zip(full[2:], tail))


def test_augment_crop_and_flip():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    aug = Augment(crop_padding=1, flip=True)
    params = (torch.tensor([1]), torch.tensor([1]), torch.tensor([True]))
    assert torch.equal(aug.apply(x, params), x.flip(3))  # centre crop = identity, then flip
    params = (torch.tensor([0]), torch.tensor([1]), torch.tensor([False]))
    out = aug.apply(x, params)
    assert torch.equal(out[0, 0, 0], torch.zeros(4)) and torch.equal(out[0, 0, 1], x[0, 0, 0])


def test_errors():
    x, y = _data()
    with pytest.raises(ValueError, match="not divisible"):
        list(iterate_batches(x, y, 3, world_size=2))
    with pytest.raises(ValueError, match="batch_size"):
        list(iterate_batches(x, y, 0))
