"""``clathrate.eliashberg``: the isotropic Eliashberg solver as a calcfunction (provenance wrapper)."""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.engine import ExitCode, calcfunction

from aiida_clathrate.eliashberg import (
    EliashbergSettings,
    GapConvergenceError,
    run_eliashberg,
    to_mev,
)
from aiida_clathrate.eliashberg.mustar import DEFAULT_MUSTAR
from aiida_clathrate.validators import validate_mustar

ALPHA2F_Y_NAME = "alpha2F"


def alpha2f_xydata(omega, a2f, unit: str = "meV") -> orm.XyData:
    """An unstored XyData holding alpha^2F: x = frequency ('omega', in ``unit``), y = alpha^2F."""
    to_mev(1.0, unit)  # validates the unit name
    node = orm.XyData()
    node.set_x(np.asarray(omega, dtype=float), "omega", unit)
    node.set_y(np.asarray(a2f, dtype=float), ALPHA2F_Y_NAME, "dimensionless")
    return node


def xydata_to_alpha2f(node: orm.XyData) -> tuple[np.ndarray, np.ndarray]:
    """(omega in meV, alpha^2F) from an XyData whose x units name the frequency unit."""
    _, x_array, x_unit = node.get_x()
    y_arrays = node.get_y()
    chosen = [y for y in y_arrays if y[0] == ALPHA2F_Y_NAME] or y_arrays[:1]
    return to_mev(x_array, x_unit), np.asarray(chosen[0][1], dtype=float)


def _default_mustar() -> orm.List:
    return orm.List(list(DEFAULT_MUSTAR))


def _default_settings() -> orm.Dict:
    return orm.Dict({})


@calcfunction
def eliashberg(
    alpha2f: orm.XyData,
    mustar: orm.List = _default_mustar,
    settings: orm.Dict = _default_settings,
):
    """Solve the isotropic Migdal-Eliashberg equations for alpha^2F and each mu*.

    Inputs:
        alpha2f: XyData, x = frequency with its unit in the node (meV, THz, cm-1, Ry), first y
            (or the one named 'alpha2F') = alpha^2F.
        mustar: List of mu* values (default ``eliashberg.mustar.DEFAULT_MUSTAR``), each in
            ``MUSTAR_RANGE`` = [0, 0.5) (checked by the port validator
            :func:`aiida_clathrate.validators.validate_mustar`: a bad list is refused before the
            function runs), applied as given at omega_c unless
            settings['mustar_reference_cutoff_mev'] asks for the Allen-Mitrovic rescaling.
        settings: Dict of :class:`aiida_clathrate.eliashberg.EliashbergSettings` fields.

    Outputs:
        result: Dict with lambda, omega_log_mev, omega_2_mev, ..., and per-mu* lists
            tc_eliashberg_kelvin, tc_allen_dynes_kelvin, tc_mcmillan_kelvin, delta_0_mev, gap_ratio.
        gap_curve: XyData, x = temperature (K), one y per mu* = Delta(i omega_0) in meV.

    Exit codes: 300 invalid input, 310 nonlinear equations not converged, 320 Tc search or
    Pade continuation failed.
    """
    try:
        solver_settings = EliashbergSettings.from_dict(settings.get_dict())
        omega_mev, a2f = xydata_to_alpha2f(alpha2f)
        summary = run_eliashberg(omega_mev, a2f, list(mustar.get_list()), solver_settings)
    except (ValueError, TypeError) as exc:
        return ExitCode(300, f"invalid input: {exc}")
    except GapConvergenceError as exc:
        return ExitCode(310, f"Eliashberg equations did not converge: {exc}")
    except RuntimeError as exc:
        return ExitCode(320, f"Tc search or Pade continuation failed: {exc}")

    result = orm.Dict(summary.as_dict())
    curve = orm.XyData()
    if summary.curve_temperatures_kelvin is not None:
        temperatures = summary.curve_temperatures_kelvin
        deltas = [c.delta_lowest_mev for c in summary.curves]
    else:  # not superconducting for any mu*
        temperatures = np.array([solver_settings.min_temperature_kelvin])
        deltas = [np.zeros(1) for _ in summary.results]
    curve.set_x(np.asarray(temperatures, dtype=float), "temperature", "K")
    curve.set_y(
        [np.asarray(d, dtype=float) for d in deltas],
        [f"delta_mustar_{r.mustar:.3f}" for r in summary.results],
        ["meV"] * len(deltas),
    )
    return {"result": result, "gap_curve": curve}


# A bad mu* list is refused when the process is built (ValueError), before anything runs.
eliashberg.spec().inputs["mustar"].validator = validate_mustar
