import numpy as np
import pytest
from pim_helpers import tiny_net

from dynpim.models import create_model
from dynpim.pim import load_preset, model_bits
from dynpim.pim.bits import uniform_bits


def test_quantized_model_bits_per_layer():
    hw = load_preset("sot-mram")
    m = create_model("lenet", num_classes=10, in_channels=1, wbits=3, abits=2)
    table = m.layer_table((1, 28, 28))
    b = model_bits(m, table, hw)
    assert list(b.wbits) == [3] * 4
    assert list(b.abits) == [8, 2, 2, 2]  # the first conv reads the 8-bit input codes
    assert list(b.out_bits) == [2] * 4 and b.uniform == (3, 2)
    # what the modules say is what is costed: the input quantizer's width, a layer's own wbits
    layers = dict(m.dynamic_layers())
    layers[table[0].name].in_quant.bits = 6
    layers[table[1].name].wbits = 5
    b = model_bits(m, table, hw)
    assert b.abits[0] == 6 and list(b.wbits) == [3, 5, 3, 3]


def test_float_model_bits_follow_preset_or_arguments():
    hw = load_preset("sot-mram").with_bits(4, 3)
    net = tiny_net()  # its first conv has no input slot: it reads the image at 8 bits
    b = model_bits(net, net.layer_table(), hw)
    assert list(b.wbits) == [4] * 4 and list(b.abits) == [8, 3, 3, 3]
    b = model_bits(net, net.layer_table(), hw, wbits=2, abits=1)
    assert list(b.wbits) == [2] * 4 and list(b.abits) == [8, 1, 1, 1]
    with pytest.raises(ValueError, match="abits must be an int in 1..16"):
        model_bits(net, net.layer_table(), hw, abits=0)


def test_uniform_bits_validation():
    hw = load_preset("sot-mram")
    b = uniform_bits(3, hw, [1, 2, 3], None)
    assert list(b.wbits) == [1, 2, 3] and list(b.abits) == [8, 8, 8]
    with pytest.raises(ValueError, match="wbits has 2 values for 3 layers"):
        uniform_bits(3, hw, [1, 2], None)
    with pytest.raises(ValueError, match="wbits must be an int"):
        uniform_bits(3, hw, 2.5, None)
    assert isinstance(b.wbits, np.ndarray)
