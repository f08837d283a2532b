"""``Residual``: the residual join as a parameter-free module."""

import pytest
import torch
from torch import nn

from dynpim.models import create_model
from dynpim.nn import Residual


def test_forward_is_act_of_main_plus_shortcut():
    torch.manual_seed(0)
    a, b, s = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4)
    r = Residual({"a": a, "b": b}, s, nn.ReLU())
    x = torch.randn(3, 4)
    assert torch.equal(r(x), torch.relu(b(a(x)) + s(x)))
    assert list(r.main_modules()) == [a, b]
    plain = Residual({"a": nn.Identity()})  # identity shortcut, no activation
    assert torch.equal(plain(x), x + x)


def test_adds_no_state_dict_keys():
    """The keys are those of a plain module with the same children in the same order."""
    parts = {"conv1": nn.Conv2d(2, 2, 3), "bn2": nn.BatchNorm2d(2)}
    shortcut, act = nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2)), nn.PReLU()
    plain = nn.Module()
    for name, m in {**parts, "shortcut": shortcut, "act": act}.items():
        plain.add_module(name, m)
    r = Residual(parts, shortcut, act)
    assert list(r.state_dict()) == list(plain.state_dict())
    assert not list(r.parameters(recurse=False)) and not list(r.buffers(recurse=False))


def test_main_branch_names_are_checked():
    with pytest.raises(ValueError, match="main branch"):
        Residual({})
    with pytest.raises(ValueError, match="shortcut"):
        Residual({"shortcut": nn.Identity()})


def test_the_zoo_resnet_blocks_are_residuals():
    m = create_model("resnet20", image_size=16)
    blocks = [b for b in m.modules() if isinstance(b, Residual)]
    assert len(blocks) == 9 and all(type(b).__name__ == "BasicBlock" for b in blocks)
    for name in ("lenet", "vgg11_bn", "mobilenet_v1"):
        assert not any(isinstance(b, Residual) for b in create_model(name).modules())


def test_both_sides_of_a_residual_must_share_a_slot():
    from dynpim.nn import DynamicBatchNorm2d, DynamicConv2d, DynamicNet, Slot

    def net(out_slot, shortcut=None):
        block = Residual({"conv": DynamicConv2d(4, 4, 3, padding=1, in_slot="a",
                                                out_slot=out_slot),
                          "bn": DynamicBatchNorm2d(4, slot=out_slot)}, shortcut)
        stem = DynamicConv2d(2, 4, 3, padding=1, in_slot=None, out_slot="a")
        return DynamicNet(nn.Sequential(stem, block), [Slot.make("a", 4), Slot.make("b", 4)])

    assert net("a").body[1].joined_slots() == ("a", "a")  # identity shortcut: the input slot
    with pytest.raises(ValueError, match="residual '1' adds slot 'b' to slot 'a'"):
        net("b")
    projected = net("b", DynamicConv2d(4, 4, 1, in_slot="a", out_slot="b"))
    assert projected.body[1].joined_slots() == ("b", "b")
    for name in ("resnet20", "resnet20_untied"):
        blocks = [m for m in create_model(name, image_size=16).modules()
                  if isinstance(m, Residual)]
        assert all(a == b is not None for a, b in (m.joined_slots() for m in blocks))
