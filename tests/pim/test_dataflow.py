import numpy as np
import pytest

from dynpim.nn import LayerSpec
from dynpim.pim import layer_ops, layer_schedule, map_model, subarrays_needed


def test_hand_counts_linear_layer():
    # M=3 outputs, K=10 inputs, N=1, 2-bit x 2-bit, 4 columns -> 3 tiles, 3 sub-arrays per tile
    ops = layer_ops(3, 10, 1, 1, 3, abits=2, wbits=2, cols=4, accumulator_bits=32)
    assert ops.as_dict() == {
        "senses": 36, "sense_bits": 120, "sensed_cols": 144, "popcounts": 36, "shift_adds": 42,
        "row_writes": 18, "write_bits": 60, "bus_in_bits": 20, "bus_out_bits": 6, "psum_bits": 192}
    sch = layer_schedule(3, 10, 1, 3, wbits=2, cols=4)
    assert (sch.tiles, sch.active_subarrays, sch.busy_rows, sch.busy_writes, sch.busy_psums) == \
        (3, 9, 2, 1, 2)


def test_depthwise_counts_one_write_per_channel():
    # 6 channels, 3x3 kernel, 4 pixels, on 4 sub-arrays per tile: channels 0,4 | 1,5 | 2 | 3
    ops = layer_ops(6, 9, 4, 6, 4, abits=1, wbits=1, cols=16, accumulator_bits=8)
    assert int(ops.row_writes) == 4 * 1 * 1 * 6
    assert int(ops.write_bits) == 4 * 9 * 6
    assert int(ops.bus_in_bits) == 4 * 9 * 6
    sch = layer_schedule(6, 9, 6, 4, wbits=1, cols=16)
    assert (int(sch.busy_rows), int(sch.busy_writes)) == (2, 2)


@pytest.mark.parametrize("m,g,s", [(7, 1, 3), (12, 12, 5), (8, 1, 8), (5, 5, 9), (16, 1, 2)])
def test_schedule_matches_brute_force_placement(m, g, s):
    mg = m // g
    groups_in = [{c // mg for c in range(m) if c % s == sa} for sa in range(s)]
    rows_in = [sum(1 for c in range(m) if c % s == sa) for sa in range(s)]
    sch = layer_schedule(m, 20, g, s, wbits=3, cols=8)
    assert int(sch.busy_rows) == 3 * max(rows_in)
    assert int(sch.busy_writes) == max(len(x) for x in groups_in)
    assert int(sch.active_subarrays) == 3 * sum(1 for r in rows_in if r)


def test_pixel_packing_counts_rows_of_pixels():
    # K = 9 on 32 columns: 3 pixel segments per sensed row; 10 pixels -> 4 rows (last one short)
    ops = layer_ops(2, 9, 10, 1, 2, abits=1, wbits=1, cols=32, accumulator_bits=8,
                    pixels_per_row=3, out_bits=4)
    assert (int(ops.senses), int(ops.popcounts), int(ops.sensed_cols)) == (8, 20, 8 * 32)
    assert int(ops.row_writes) == 4 * 2 and int(ops.bus_out_bits) == 2 * 10 * 4
    sch = layer_schedule(2, 9, 1, 2, wbits=1, cols=32, n=10, pixels_per_row=3)
    assert (int(sch.pixel_rows), int(sch.passes)) == (4, 1)


def test_vectorised_broadcast():
    m = np.array([[4, 8], [2, 16]])
    ops = layer_ops(m, 9, 10, 1, 4, abits=2, wbits=3, cols=256, accumulator_bits=32)
    assert ops.senses.shape == (2, 2)
    assert ops.senses[1, 1] == 16 * 10 * 1 * 2 * 3


def _spec(name, cin, cout, k=3, hw=8):
    return LayerSpec(name, "conv", cin, cout, (k, k), (1, 1), (1, 1), 1, (hw, hw), (hw, hw),
                     None, None, False)


def test_mapping_spreads_then_packs(simple_hw):
    # simple_hw: 64 sub-arrays, 8 weight rows, 4 columns, 2-bit weights -> <= 4 channels each
    table = [_spec("a", 1, 4, k=2), _spec("b", 2, 4, k=2)]  # K = 4 and 8 -> 1 and 2 tiles
    mp = map_model(table, simple_hw, 2)
    assert mp.channels_per_subarray == 1 and mp.fits and mp.name == "pixel"
    assert list(mp.pixels_per_row) == [1, 1]  # K = 4 and 8 fill the 4 columns already
    assert list(mp.layer_subarrays) == [4, 8]
    big = [_spec("c", 8, 16, k=2)]  # K = 32 -> 8 tiles; 16 channels need cps >= 2 to fit 64
    mp = map_model(big, simple_hw, 2)
    assert mp.channels_per_subarray == 2 and list(mp.layer_subarrays) == [64] and mp.fits
    huge = [_spec("d", 16, 64, k=2)]
    mp = map_model(huge, simple_hw, 2)
    assert mp.channels_per_subarray == 4 and not mp.fits
    assert mp.weight_bits == 64 * 64 * 2
    with pytest.raises(ValueError, match="wbits=9 exceeds"):
        map_model(table, simple_hw, 9)
    assert subarrays_needed(huge, simple_hw, 2) == 16 * 16  # 16 tiles x 64 / 4 channels


def test_pixel_mapping_replicates_only_short_reductions(simple_hw):
    from dataclasses import replace

    wide = replace(simple_hw, subarray=replace(simple_hw.subarray, cols=64))
    table = [_spec("a", 1, 4, k=3), _spec("b", 4, 4, k=3), _spec("c", 8, 4, k=3)]  # K 9/36/72
    assert list(map_model(table, wide, 2).pixels_per_row) == [7, 1, 1]
    assert list(map_model(table, wide, 2, "channel").pixels_per_row) == [1, 1, 1]
    # replication fills empty columns of the same rows: the same sub-arrays either way
    assert list(map_model(table, wide, 2).layer_subarrays) == \
        list(map_model(table, wide, 2, "channel").layer_subarrays)
