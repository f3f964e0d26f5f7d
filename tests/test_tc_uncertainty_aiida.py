"""The ``tc_uncertainty`` calcfunction on hand-made nodes: the plateau read from the
electron-phonon summary, the bootstrap array of the Hessian output, and exit code 300."""

from __future__ import annotations

import numpy as np
import pytest
from aiida import orm

from aiida_clathrate.calculations.eliashberg import alpha2f_xydata
from aiida_clathrate.calculations.tc_uncertainty import tc_uncertainty
from aiida_clathrate.eliashberg.models import clathrate_like_spectrum
from aiida_clathrate.eliashberg.tc import solve_tc

MUSTAR = [0.10, 0.13, 0.15]
HESSIAN_CM1 = np.linspace(60.0, 1250.0, 39)


def _inputs(with_bootstrap: bool) -> dict:
    omega, a2f = clathrate_like_spectrum()
    tcs = [solve_tc(omega, a2f, mu).tc_kelvin for mu in MUSTAR]
    # broadening 2 is chosen; 3 is within 5 % of it, 4 is not: the plateau is 2, 3
    summary = {
        "chosen_index": 2,
        "plateau_tolerance": 0.05,
        "broadenings": [
            {"index": i, "lambda_qe": lam} for i, lam in enumerate((0.6, 0.9, 0.92, 1.1), 1)
        ],
    }
    inputs = {
        "eliashberg": orm.Dict({"mustar": MUSTAR, "tc_eliashberg_kelvin": tcs}),
        "epc_summary": orm.Dict(summary),
        "settings": orm.Dict({}),
        **{
            f"broadening_{i:02d}": alpha2f_xydata(omega, a2f * scale)
            for i, scale in ((1, 0.5), (2, 1.0), (3, 1.05), (4, 1.5))
        },
    }
    if with_bootstrap:
        frequencies = orm.ArrayData()
        frequencies.set_array("frequencies_cm1", HESSIAN_CM1)
        frequencies.set_array(
            "bootstrap_frequencies_cm1", np.array([HESSIAN_CM1 * 1.01, HESSIAN_CM1 * 0.99])
        )
        inputs["hessian_frequencies"] = frequencies
    return inputs, tcs, (omega, a2f)


def test_plateau_and_bootstrap_from_the_nodes(aiida_profile):
    inputs, tcs, (omega, a2f) = _inputs(with_bootstrap=True)
    result = tc_uncertainty(**inputs).get_dict()
    assert result["plateau_broadening_indices"] == [2, 3]
    wider = solve_tc(omega, a2f * 1.05, 0.13).tc_kelvin
    assert result["broadening_kelvin"] == pytest.approx((wider - tcs[1]) / 2, rel=1e-6)
    assert result["tc_kelvin"] == pytest.approx(tcs[1], rel=1e-12)
    assert len(result["bootstrap_tc_kelvin"]) == 2 and result["sscha_kelvin"] > 0
    without = tc_uncertainty(**_inputs(with_bootstrap=False)[0]).get_dict()
    assert without["sscha_kelvin"] is None
    assert without["broadening_kelvin"] == pytest.approx(result["broadening_kelvin"])


def test_inconsistent_inputs_give_exit_code_300(aiida_profile):
    inputs, _, _ = _inputs(with_bootstrap=False)
    inputs["eliashberg"] = orm.Dict({"mustar": MUSTAR, "tc_eliashberg_kelvin": [50.0]})
    _, node = tc_uncertainty.run_get_node(**inputs)
    assert node.exit_status == 300 and "no Tc uncertainty" in node.exit_message
    inputs, _, _ = _inputs(with_bootstrap=False)
    del inputs["broadening_02"]  # the chosen broadening's alpha^2F is missing
    _, node = tc_uncertainty.run_get_node(**inputs)
    assert node.exit_status == 300 and "chosen broadening 2" in node.exit_message
