"""Isotropic Migdal-Eliashberg solver for alpha^2F(omega) (plain numpy/scipy, no AiiDA).

Energies are in meV, temperatures in K.  mu* is applied as given to |omega_n| <= omega_c
(EPW convention) unless ``EliashbergSettings.mustar_reference_cutoff_mev`` asks for the
Allen-Mitrovic rescaling from a reference cutoff.
"""

from ..units import KB_MEV_PER_KELVIN, from_mev, to_mev
from .formulas import allen_dynes_factors, allen_dynes_tc, mcmillan_tc
from .gap import GapConvergenceError, GapCurve, GapSolution, gap_curve, solve_gap_at_temperature
from .matsubara import MatsubaraSystem, PreparedSpectrum, matsubara_count
from .models import clathrate_like_spectrum, einstein_spectrum, gaussian_bands, low_tc_spectrum
from .mustar import (
    DEFAULT_MUSTAR,
    MUSTAR_RANGE,
    check_mustar,
    check_mustar_value,
    mustar_error,
    mustar_value_error,
)
from .pade import PadeContinuation, edge_gap
from .readers import (
    Alpha2F,
    read_alpha2f,
    read_lambda_x_alpha2f,
    read_lambda_x_table,
    read_matdyn_lambda,
    read_qe_a2f_dos,
    read_two_column,
)
from .settings import EliashbergSettings, rescale_mustar
from .solver import EliashbergSummary, MustarResult, delta_zero, run_eliashberg
from .spectrum import (
    OMEGA_MAX_THRESHOLD,
    SpectralMoments,
    cumulative_lambda,
    mode_lambdas,
    phonon_max_mev,
    spectral_moments,
    validate_mustar,
    validate_spectrum,
)
from .tc import TcResult, linearized_eigenvalue, solve_tc

__all__ = [
    "DEFAULT_MUSTAR",
    "KB_MEV_PER_KELVIN",
    "MUSTAR_RANGE",
    "OMEGA_MAX_THRESHOLD",
    "Alpha2F",
    "EliashbergSettings",
    "EliashbergSummary",
    "GapConvergenceError",
    "GapCurve",
    "GapSolution",
    "MatsubaraSystem",
    "MustarResult",
    "PadeContinuation",
    "PreparedSpectrum",
    "SpectralMoments",
    "TcResult",
    "allen_dynes_factors",
    "allen_dynes_tc",
    "check_mustar",
    "check_mustar_value",
    "clathrate_like_spectrum",
    "cumulative_lambda",
    "delta_zero",
    "edge_gap",
    "einstein_spectrum",
    "from_mev",
    "gap_curve",
    "gaussian_bands",
    "linearized_eigenvalue",
    "low_tc_spectrum",
    "matsubara_count",
    "mcmillan_tc",
    "mode_lambdas",
    "mustar_error",
    "mustar_value_error",
    "phonon_max_mev",
    "read_alpha2f",
    "read_lambda_x_alpha2f",
    "read_lambda_x_table",
    "read_matdyn_lambda",
    "read_qe_a2f_dos",
    "read_two_column",
    "rescale_mustar",
    "run_eliashberg",
    "solve_gap_at_temperature",
    "solve_tc",
    "spectral_moments",
    "to_mev",
    "validate_mustar",
    "validate_spectrum",
]
