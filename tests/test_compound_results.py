"""``collect_compound_results``: the summary Dict of the compound work chain, both branches."""

from __future__ import annotations

from aiida import orm

from aiida_clathrate.workflows.compound import (
    ANHARMONIC_CAVEAT,
    collect_compound_results,
)


def _eliashberg(lam: float, omega_log: float, tcs: list[float]) -> orm.Dict:
    return orm.Dict(
        {
            "lambda": lam,
            "omega_log_mev": omega_log,
            "mustar": [0.10, 0.15],
            "tc_eliashberg_kelvin": tcs,
        }
    )


def _epc(lam: float) -> orm.Dict:
    return orm.Dict({"lambda": lam, "dos_ef_states_per_ev_spin": 1.5, "broadening_ry": 0.02})


def test_harmonic_only(aiida_profile):
    result = collect_compound_results(
        structure_parameters=orm.Dict(
            {"lattice_parameter_angstrom": 4.9, "d_long_angstrom": 1.8, "d_short_angstrom": 1.6}
        ),
        dynamically_stable=orm.Bool(False),
        min_frequency_cm1=orm.Float(-120.0),
    ).get_dict()
    assert result["harmonic_stable"] is False
    assert result["harmonic_min_frequency_cm1"] == -120.0
    assert result["sscha_category"] is None
    assert (result["d_long_angstrom"], result["d_short_angstrom"]) == (1.8, 1.6)
    assert not any(key.startswith(("tc_", "lambda_")) for key in result)


def test_both_branches_and_the_anharmonic_caveat(aiida_profile):
    result = collect_compound_results(
        structure_parameters=orm.Dict({"lattice_parameter_angstrom": 4.9}),
        dynamically_stable=orm.Bool(True),
        min_frequency_cm1=orm.Float(50.0),
        sscha_verdict=orm.Dict(
            {"category": "stable", "lowest_hessian_cm1": 40.0, "lowest_auxiliary_cm1": 60.0}
        ),
        epc_summary_harmonic=_epc(1.2),
        eliashberg_harmonic=_eliashberg(1.19, 40.0, [30.0, 25.0]),
        epc_summary_anharmonic=_epc(1.0),
        eliashberg_anharmonic=_eliashberg(0.98, 45.0, [27.0, 22.0]),
    ).get_dict()
    assert result["sscha_category"] == "stable"
    assert result["lambda_harmonic"] == 1.2 and result["lambda_anharmonic"] == 1.0
    assert result["lambda_from_a2f_anharmonic"] == 0.98
    assert result["tc_harmonic_kelvin"] == [30.0, 25.0]
    assert result["tc_anharmonic_kelvin"] == [27.0, 22.0]
    assert result["omega_log_anharmonic_mev"] == 45.0
    assert result["mustar"] == [0.10, 0.15]
    assert result["anharmonic_caveat"] == ANHARMONIC_CAVEAT
    assert "trans=.false." in result["anharmonic_method"]
