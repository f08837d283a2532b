import json

import pytest

from dynpim.nn import Slot, SubnetConfig, load_configs, save_configs


def test_slot_make_steps_and_minimum():
    s = Slot.make("a", 16)
    assert (s.max_channels, s.min_channels, s.step) == (16, 4, 2)
    assert list(s.allowed()) == [4, 6, 8, 10, 12, 14, 16]
    odd = Slot.make("b", 6)
    assert odd.step == 1 and odd.min_channels == 2


@pytest.mark.parametrize("w, msg", [(3, "allowed range is 4..16"), (18, "'a'"), (5, "steps of 2")])
def test_slot_check_errors_name_slot_and_range(w, msg):
    with pytest.raises(ValueError, match=msg):
        Slot.make("a", 16).check(w)


def test_bad_slot_definitions():
    with pytest.raises(ValueError, match="min_channels"):
        Slot("x", 8, 9, 1)
    with pytest.raises(ValueError, match="multiple"):
        Slot("x", 10, 4, 4)


def test_config_frozen_hashable_json_roundtrip():
    c = SubnetConfig([4, 8, 16])
    assert c == SubnetConfig((4, 8, 16)) and hash(c) == hash(SubnetConfig((4, 8, 16)))
    assert c.key == "4-8-16"
    assert SubnetConfig.from_json(c.to_json()) == c
    with pytest.raises(AttributeError):
        c.widths = (1,)  # type: ignore[misc]
    assert len({c, SubnetConfig([4, 8, 16])}) == 1


def test_config_rejects_non_ints_and_bad_json():
    with pytest.raises(ValueError, match="ints"):
        SubnetConfig([4.0, 8])
    with pytest.raises(ValueError, match="JSON"):
        SubnetConfig.from_json("{oops")
    with pytest.raises(ValueError, match="widths"):
        SubnetConfig.from_dict({"width": [1]})


def test_uniform_rounds_to_step_and_validates_ratio():
    slots = [Slot.make("a", 16), Slot.make("b", 64)]
    assert SubnetConfig.uniform(slots, 0.5).widths == (8, 32)
    assert SubnetConfig.uniform(slots, 0.3).widths == (4, 16)  # 4.8 -> 4, 19.2 -> 16
    assert SubnetConfig.uniform(slots, 0.01).widths == (4, 16)  # clamped to the minimum
    for bad in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match=r"\(0, 1\]"):
            SubnetConfig.uniform(slots, bad)


def test_validate_length_and_ranges():
    slots = [Slot.make("a", 16), Slot.make("b", 64)]
    with pytest.raises(ValueError, match="2 slots"):
        SubnetConfig([8]).validate(slots)
    with pytest.raises(ValueError, match="slot 'b'"):
        SubnetConfig([8, 4]).validate(slots)


def test_configs_file_roundtrip(tmp_path):
    p = tmp_path / "c.json"
    cfgs = [SubnetConfig([4, 8]), SubnetConfig([16, 64])]
    save_configs(str(p), cfgs)
    assert load_configs(str(p)) == cfgs
    p.write_text(json.dumps([[4, 8]]))
    assert load_configs(str(p)) == [SubnetConfig([4, 8])]
    p.write_text("[]")
    with pytest.raises(ValueError, match="non-empty"):
        load_configs(str(p))
