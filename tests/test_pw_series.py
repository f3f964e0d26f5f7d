"""PwSeriesWorkChain: the order of its runs and its refusals (its runs with real pw.x, failures
included, are tested through the SSCHA in test_faults.py and test_sscha_workchain.py)."""

from __future__ import annotations

import pytest
from aiida import orm

from aiida_clathrate.workflows.pw_series import PwSeriesWorkChain, natural_order


def test_natural_order():
    labels = ["dft_1_10", "dft_1_2", "dft_2_0", "dft_1_9"]
    assert natural_order(labels) == ["dft_1_2", "dft_1_9", "dft_1_10", "dft_2_0"]


def test_no_structures_is_refused(aiida_profile, qe_codes):
    from aiida.engine import run_get_node

    builder = PwSeriesWorkChain.get_builder()
    builder.pw_base.pw.code = orm.load_code(qe_codes["pw"])
    builder.pw_base.pw.parameters = orm.Dict({"CONTROL": {"calculation": "scf"}})
    kpoints = orm.KpointsData()
    kpoints.set_kpoints_mesh([1, 1, 1])
    builder.pw_base.kpoints = kpoints
    before = orm.QueryBuilder().append(orm.ProcessNode).count()
    with pytest.raises(ValueError, match="no structures given"):
        run_get_node(builder)
    assert orm.QueryBuilder().append(orm.ProcessNode).count() == before
