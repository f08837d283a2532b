"""The old import paths ``dynpim.nn.quant`` and ``dynpim.nn.integer`` (shown by earlier docs)
still give the very objects that now live in ``dynpim.quant``."""

import dynpim.nn.integer as old_integer
import dynpim.nn.quant as old_quant
from dynpim import quant
from dynpim.quant import compiler, ir, quantizers


def test_old_paths_re_export_the_same_objects():
    for old, new in ((old_quant, quantizers), (old_integer, compiler), (old_integer, ir)):
        names = [n for n in old.__all__ if hasattr(new, n)]
        assert names
        for n in names:
            assert getattr(old, n) is getattr(new, n) is getattr(quant, n), n
    assert set(old_integer.__all__) <= set(compiler.__all__) | set(vars(ir))
    assert {"exact_float32", "load_float_weights", "ActQuant", "check_bits"} <= \
        set(old_quant.__all__)
    assert {"quantized_subnet", "integer_forward", "run_program", "Requant"} <= \
        set(old_integer.__all__)
