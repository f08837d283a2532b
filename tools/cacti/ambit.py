"""Ambit bulk-bitwise energies from DRAM command energies (the formula; no dependencies).

Used by ``derive.py``, ``benchmarks/pim_validation.py`` and the tests; the dram-ambit preset's
DRAM energies are these functions applied to ``derived.json`` (docs/pim-model.md section 7).

Command energies of one 1 KB page of one x8 DDR3 chip (an 8 KB rank row is 8 such pages, so
energy per page = energy per KB), from CACTI:

* ``A``  ACTIVATE of a precharged bank = CACTI's activation energy (row address bus, decoders,
  word line, bit-line swing and sense amplifiers of the page);
* ``P``  PRECHARGE = CACTI's precharge energy, taken as CACTI models it;
* ``A2`` the second ACTIVATE of an AAP: Ambit (like RowClone-FPM) raises the destination word
  line while the sense amplifiers still hold the source row, so the bit lines do not swing
  again. ``A2`` = CACTI's activation energy less its bit-line and sense-amplifier parts (the
  row path: address bus, decoders, word line) plus restoring the newly connected cells: a cell
  that held 0 and must become 1 draws C_cell * V_cell^2 from the supply, which happens for a
  quarter of the cells of random data: ``page_bits * C_cell * V_cell^2 / 4``;
* a triple-row activation (TRA) costs ``(1 + TRA_EXTRA) * A``.

Command sequences per operation (Ambit, Seshadri et al., MICRO 2017, section 5 / Fig. 10):
AAP = ACTIVATE, ACTIVATE, PRECHARGE; AP = ACTIVATE, PRECHARGE.
"""

from __future__ import annotations

# Ambit (MICRO 2017): a triple-row activation consumes 22 % more energy than a regular one.
TRA_EXTRA = 0.22
# operation -> (AAPs, APs, TRAs among their first activations)
SEQUENCES = {
    "not": (2, 0, 0),        # AAP(Di, ~DCC), AAP(DCC, Dk)
    "and_or": (4, 0, 1),     # 3 AAPs copy Di, Dj, control row to T0-T2; 1 AAP(TRA, Dk)
    "nand_nor": (5, 0, 1),   # AND/OR, then the result through a dual-contact cell (+1 AAP)
    "xor_xnor": (5, 2, 3),   # 5 AAPs and 2 APs, three of whose first activations are TRAs
}
BITS_PER_KB = 8192


def commands(fig: dict) -> dict:
    """A, A2, P (J per page) from one CACTI derivation (``derived.json['cacti']``)."""
    a = fig["activation_j"]
    row_path = a - fig["bitline_j"] - fig["senseamp_j"]
    cells = fig["page_bits"] * fig["cell_c_f"] * fig["cell_vdd_v"] ** 2 / 4
    return {"A": a, "A2": row_path + cells, "P": fig["precharge_j"],
            "row_path": row_path, "cell_restore": cells}


def aap_j(fig: dict) -> float:
    c = commands(fig)
    return c["A"] + c["A2"] + c["P"]


def ap_j(fig: dict) -> float:
    c = commands(fig)
    return c["A"] + c["P"]


def op_j_per_kb(fig: dict, op: str) -> float:
    """Energy of one bulk operation per KB of output, J/KB."""
    if op not in SEQUENCES:
        raise ValueError(f"op must be one of {sorted(SEQUENCES)}, got {op!r}")
    n_aap, n_ap, n_tra = SEQUENCES[op]
    e = n_aap * aap_j(fig) + n_ap * ap_j(fig) + n_tra * TRA_EXTRA * commands(fig)["A"]
    return e * BITS_PER_KB / fig["page_bits"]


def refresh_j_per_kb(fig: dict) -> float:
    """A refresh of one row is an ACTIVATE + PRECHARGE (AP), J/KB."""
    return ap_j(fig) * BITS_PER_KB / fig["page_bits"]


def variants(fig: dict) -> dict:
    """AND/OR energy (J/KB) under other readings of the commands, for the docs' sensitivity
    table (never used for a preset number): the formula as used; the second ACTIVATE of an AAP
    costed as a full activation (AAP = 2 A + P); PRECHARGE without the bit-line energy CACTI
    books for it (equaliser drive only, P = precharge - bit line); no TRA overhead."""
    c = commands(fig)
    scale = BITS_PER_KB / fig["page_bits"]
    p_eq = fig["precharge_j"] - fig["bitline_j"]
    tra = TRA_EXTRA * c["A"]
    return {"as_derived": op_j_per_kb(fig, "and_or"),
            "second_act_full": (4 * (2 * c["A"] + c["P"]) + tra) * scale,
            "precharge_equaliser_only": (4 * (c["A"] + c["A2"] + p_eq) + tra) * scale,
            "no_tra_overhead": 4 * aap_j(fig) * scale}


def preset_values(fig: dict, rows: int, cols: int) -> dict:
    """The dram-ambit preset's derived numbers, in the preset's units (nJ/KB, uW)."""
    aap_nj = aap_j(fig) * BITS_PER_KB / fig["page_bits"] * 1e9
    refresh_w = rows * refresh_j_per_kb(fig) * cols / BITS_PER_KB / 64e-3  # every row per 64 ms
    return {"device.read_energy": aap_nj, "device.write_energy": aap_nj,
            "device.sense_energy": op_j_per_kb(fig, "and_or") * 1e9,
            "device.retention_power": refresh_w * 1e6}
