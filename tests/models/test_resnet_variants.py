"""ResNet-20 variants with the authors' search granularity: step-1 slots and untied blocks."""

import torch

from dynpim.models import create_model
from dynpim.nn import SubnetConfig


def test_fine_slots_step_one_down_to_one_channel_same_weights_as_resnet20():
    fine = create_model("resnet20_fine", in_channels=1, image_size=8)
    base = create_model("resnet20", in_channels=1, image_size=8)
    assert all(s.step == 1 and s.min_channels == 1 for s in fine.slots)
    assert [s.name for s in fine.slots] == [s.name for s in base.slots]
    fine.load_state_dict(base.state_dict())          # same parameters, only the slots differ
    fine.set_subnet(SubnetConfig([s.min_channels for s in fine.slots]))


def test_untied_has_one_slot_per_3x3_conv_and_exports_exactly():
    m = create_model("resnet20_untied", in_channels=1, image_size=8).eval()
    assert len(m.slots) == 19 and m.slots[0].name == "stem"
    g = torch.Generator().manual_seed(0)
    widths = [int(torch.randint(1, s.max_channels + 1, (1,), generator=g)) for s in m.slots]
    cfg = SubnetConfig(widths)
    x = torch.randn(4, 1, 8, 8)
    m.train()
    with m.subnet(cfg):
        m(x)                                          # every width combination is valid
    # with every block's width untied, the smallest config costs far less than resnet20's
    small = SubnetConfig([1] * 19)
    assert m.macs(small) < create_model("resnet20", in_channels=1, image_size=8).macs(
        SubnetConfig.uniform(create_model("resnet20", in_channels=1, image_size=8), 0.25))
