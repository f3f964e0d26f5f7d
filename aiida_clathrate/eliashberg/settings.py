"""Solver settings and the mu* cutoff convention."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from .spectrum import OMEGA_MAX_THRESHOLD, check_omega_max_threshold, validate_mustar


@dataclass(frozen=True)
class EliashbergSettings:
    """Numerical settings of the isotropic Migdal-Eliashberg solver (energies in meV, T in K).

    mu* convention: by default mu* is applied *as given* to every Matsubara frequency with
    |omega_n| <= omega_c (as EPW does).  If ``mustar_reference_cutoff_mev`` is set, the given mu* is
    understood at that reference cutoff and rescaled to omega_c with the Allen-Mitrovic formula
    mu*(omega_c) = mu* / (1 + mu* ln(omega_ref / omega_c)).

    Highest phonon frequency omega_max: the highest grid frequency at which alpha^2F reaches
    ``omega_max_threshold`` (default 1e-3) times its maximum.  It sets omega_c and the start of
    the Tc bracket; tails below that level (Gaussian tails down to 1e-147, smearing tails) cannot
    move it, however far they reach.  ``omega_max_threshold = 0`` restores the last point with
    alpha^2F > 0 (before issue 31), which such tails move: +27 % Tc on a weak-coupling spectrum.

    Attributes:
        omega_cutoff_factor: omega_c = factor * omega_max (default 10, as the study).
        omega_cutoff_mev: explicit omega_c; overrides ``omega_cutoff_factor`` when set.
        mustar_reference_cutoff_mev: reference cutoff for the Allen-Mitrovic rescaling (None: off).
        min_matsubara: the lambda sums always include at least this many positive Matsubara
            frequencies (the Coulomb term stays restricted to |omega_n| <= omega_c); this matters
            only at very high T/omega_c (strong coupling).
        max_matsubara: largest number of positive Matsubara frequencies allowed; sets the lowest
            temperature that can be treated.
        min_temperature_kelvin: Tc below this is reported as 0.
        tc_tolerance_kelvin: absolute floor of the Tc tolerance (default 1e-6 K).  The Brent
            search stops when |Tc - Tc_root| <= tc_tolerance_kelvin + tc_relative_tolerance * Tc.
        gap_tolerance: convergence of the nonlinear equations, max|Delta_new - Delta| <=
            gap_tolerance * max|Delta| (+ 1e-12 meV).
        max_iterations: iteration limit of the nonlinear solver.
        anderson_history: depth of the Anderson mixing history (0: plain mixing).
        mixing: linear mixing parameter used with Anderson mixing.
        gap_temperature_fraction: Delta_0 is computed at T = fraction * Tc (BCS: relative error of
            Delta(T) vs Delta(0) at 0.2 Tc is 1e-4).
        gap_curve_points: number of temperatures of the Delta(T) curve.
        pade_points: number of lowest Matsubara points used for the Pade continuation.
        omega_max_threshold: omega_max is the highest frequency where alpha^2F >= this fraction
            of max(alpha^2F); in [0, 1), 0 = last point with alpha^2F > 0 (see above).
        tc_relative_tolerance: relative tolerance of Tc (default 1e-4: 0.01 K at 100 K, the old
            absolute tolerance there, and 1e-4 K at 1 K); at least 1e-12, below 0.1.
    """

    omega_cutoff_factor: float = 10.0
    omega_cutoff_mev: float | None = None
    mustar_reference_cutoff_mev: float | None = None
    min_matsubara: int = 32
    max_matsubara: int = 20000
    min_temperature_kelvin: float = 0.2
    tc_tolerance_kelvin: float = 1e-6
    gap_tolerance: float = 1e-8
    max_iterations: int = 2000
    anderson_history: int = 8
    mixing: float = 1.0
    gap_temperature_fraction: float = 0.2
    gap_curve_points: int = 30
    pade_points: int = 100
    omega_max_threshold: float = OMEGA_MAX_THRESHOLD
    tc_relative_tolerance: float = 1e-4

    def __post_init__(self) -> None:
        positive = {
            "omega_cutoff_factor": self.omega_cutoff_factor,
            "min_temperature_kelvin": self.min_temperature_kelvin,
            "tc_tolerance_kelvin": self.tc_tolerance_kelvin,
            "gap_tolerance": self.gap_tolerance,
            "mixing": self.mixing,
        }
        for name, value in positive.items():
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"setting {name} must be positive, got {value!r}")
        for name in ("omega_cutoff_mev", "mustar_reference_cutoff_mev"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value > 0):
                raise ValueError(f"setting {name} must be positive or None, got {value!r}")
        if not 0.0 < self.gap_temperature_fraction < 1.0:
            raise ValueError(
                f"gap_temperature_fraction must lie in (0, 1), got {self.gap_temperature_fraction!r}"
            )
        for name in ("min_matsubara", "max_matsubara", "max_iterations", "gap_curve_points"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"setting {name} must be >= 1, got {getattr(self, name)!r}")
        if self.pade_points < 2:
            raise ValueError(f"pade_points must be >= 2, got {self.pade_points!r}")
        if self.anderson_history < 0:
            raise ValueError(f"anderson_history must be >= 0, got {self.anderson_history!r}")
        check_omega_max_threshold(self.omega_max_threshold)
        rtol = self.tc_relative_tolerance
        if not (np.isfinite(rtol) and 1e-12 <= rtol < 0.1):
            raise ValueError(f"tc_relative_tolerance must lie in [1e-12, 0.1), got {rtol!r}")

    @classmethod
    def from_dict(cls, values: dict | None) -> EliashbergSettings:
        """Build settings from a dict, rejecting unknown keys."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown Eliashberg setting(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    def as_dict(self) -> dict:
        return asdict(self)

    def cutoff_mev(self, omega_max_mev: float) -> float:
        """The Matsubara cutoff omega_c in meV for a spectrum whose highest frequency omega_max
        (at this ``omega_max_threshold``) is given."""
        if self.omega_cutoff_mev is not None:
            return float(self.omega_cutoff_mev)
        return float(self.omega_cutoff_factor * omega_max_mev)

    def effective_mustar(self, mustar: float, cutoff_mev: float) -> float:
        """mu* applied at omega_c under the chosen convention (see class docstring)."""
        mu = validate_mustar(mustar)
        if self.mustar_reference_cutoff_mev is None:
            return mu
        return rescale_mustar(mu, self.mustar_reference_cutoff_mev, cutoff_mev)


def rescale_mustar(mustar: float, from_cutoff_mev: float, to_cutoff_mev: float) -> float:
    """Allen-Mitrovic: mu*(w_c) = mu* / (1 + mu* ln(w_ref / w_c)) for mu* given at w_ref."""
    mu = validate_mustar(mustar)
    if not (from_cutoff_mev > 0 and to_cutoff_mev > 0):
        raise ValueError(f"cutoffs must be positive, got {from_cutoff_mev!r} and {to_cutoff_mev!r}")
    denominator = 1.0 + mu * np.log(from_cutoff_mev / to_cutoff_mev)
    if denominator <= 0.0:
        raise ValueError(
            f"mu* = {mu} cannot be rescaled from {from_cutoff_mev} meV to {to_cutoff_mev} meV "
            "(Allen-Mitrovic denominator <= 0)"
        )
    return float(mu / denominator)
