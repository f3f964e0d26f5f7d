"""One SSCHA minimisation on a population with results (no AiiDA import)."""

from __future__ import annotations

import contextlib
import io
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .. import units
from .cell import CellStep, cell_step
from .dynamical_matrix import supercell_frequencies_cm1, symmetrize_phonons


@dataclass
class MinimizerSettings:
    """Settings of ``sscha.SchaMinimizer.SSCHA_Minimizer``.

    ``kong_liu_ratio``: stop the minimisation (new population needed) when the Kong–Liu effective
    sample size over N drops below it (study: 0.6). ``meaningful_factor``: the minimisation is
    converged when ``|gradient|`` < meaningful_factor × its stochastic error (python-sscha's default
    0.2; the study quotes 1e-6). ``lambda_a``: force-constant step; ``minimize_structure``: also
    move the centroids (Wyckoff positions); ``max_steps``: -1 for no limit.
    ``target_pressure_gpa``: when set, the cell takes one step towards this pressure after the
    minimisation (:mod:`.cell`; the ensemble needs stresses), with a step sized by
    ``bulk_modulus_gpa``; ``fix_volume`` relaxes the shape only.
    """

    kong_liu_ratio: float = 0.6
    meaningful_factor: float = 0.2
    lambda_a: float = 0.1
    lambda_w: float = 1.0
    minimize_structure: bool = True
    max_steps: int = 400
    root_representation: str = "normal"
    neglect_symmetries: bool = False
    symmetrize_result: bool = True
    target_pressure_gpa: float | None = None
    bulk_modulus_gpa: float = 100.0
    fix_volume: bool = False

    def __post_init__(self) -> None:
        if not 0.0 < self.kong_liu_ratio < 1.0:
            raise ValueError(f"kong_liu_ratio must be in (0, 1), got {self.kong_liu_ratio}")
        if self.meaningful_factor <= 0:
            raise ValueError(f"meaningful_factor must be positive, got {self.meaningful_factor}")
        if self.lambda_a <= 0 or self.lambda_w <= 0:
            raise ValueError(
                f"lambda_a and lambda_w must be positive: {self.lambda_a}, {self.lambda_w}"
            )
        if self.root_representation not in ("normal", "sqrt", "root4"):
            raise ValueError(
                f"root_representation must be normal, sqrt or root4, got {self.root_representation!r}"
            )
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be positive or -1, got {self.max_steps}")
        if self.bulk_modulus_gpa <= 0:
            raise ValueError(f"bulk_modulus_gpa must be positive, got {self.bulk_modulus_gpa}")

    @classmethod
    def from_dict(cls, values: dict) -> MinimizerSettings:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(
                f"unknown minimizer settings {sorted(unknown)}; known: {sorted(known)}"
            )
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class MinimizationResult:
    """Outcome of one minimisation. Free energies per unit cell. ``ensemble`` is the minimised
    ensemble (its ``current_dyn`` is the new matrix), for the free-energy Hessian."""

    phonons: object
    free_energy_ev: float
    free_energy_error_ev: float
    kong_liu_ratio: float
    gradient_ratio_fc: float
    gradient_ratio_structure: float
    frequencies_cm1: np.ndarray
    converged: bool
    n_steps: int
    stop_reason: str
    free_energy_trajectory_ev: list[float] = field(default_factory=list)
    log: str = ""
    ensemble: object = None
    cell: CellStep | None = None

    def summary(self) -> dict:
        """JSON-friendly scalars and frequencies."""
        return {
            "free_energy_ev": self.free_energy_ev,
            "free_energy_error_ev": self.free_energy_error_ev,
            "kong_liu_ratio": self.kong_liu_ratio,
            "gradient_ratio_fc": self.gradient_ratio_fc,
            "gradient_ratio_structure": self.gradient_ratio_structure,
            "frequencies_cm1": [float(w) for w in self.frequencies_cm1],
            "converged": self.converged,
            "n_steps": self.n_steps,
            "stop_reason": self.stop_reason,
            "free_energy_trajectory_ev": self.free_energy_trajectory_ev,
            "cell_relaxation": None if self.cell is None else self.cell.summary(),
        }


def _ratio(value: float, error: float) -> float:
    return float(value / error) if error > 0 else (0.0 if value == 0 else float("inf"))


def run_minimization(ensemble, settings: MinimizerSettings | None = None) -> MinimizationResult:
    """Run ``SSCHA_Minimizer`` on an ensemble whose results are filled (``ensemble.init()`` done).

    ``converged`` is python-sscha's verdict: the gradient fell below ``meaningful_factor`` × its
    error before the Kong–Liu ratio dropped below ``kong_liu_ratio``; otherwise a new population
    must be generated from ``phonons``.
    """
    import sscha.SchaMinimizer

    settings = settings or MinimizerSettings()
    if not np.any(ensemble.force_computed):
        raise ValueError("the ensemble has no forces: fill its results before minimising")
    minim = sscha.SchaMinimizer.SSCHA_Minimizer(
        ensemble,
        root_representation=settings.root_representation,
        kong_liu_ratio=settings.kong_liu_ratio,
        meaningful_factor=settings.meaningful_factor,
        lambda_a=settings.lambda_a,
    )
    minim.min_step_struc = settings.lambda_w
    minim.minim_struct = settings.minimize_structure
    minim.max_ka = settings.max_steps
    minim.neglect_symmetries = settings.neglect_symmetries
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        minim.init(init_timer=False)
        minim.run(verbose=0)
    phonons = minim.dyn.Copy()
    cell = None
    if settings.target_pressure_gpa is not None:
        cell = cell_step(
            ensemble,
            phonons,
            settings.target_pressure_gpa,
            settings.bulk_modulus_gpa,
            settings.fix_volume,
        )
    if settings.symmetrize_result and not settings.neglect_symmetries:
        with contextlib.redirect_stdout(log):
            symmetrize_phonons(phonons)
    free_energy, error = minim.get_free_energy(return_error=True)
    n = float(ensemble.N)
    kong_liu = float(ensemble.get_effective_sample_size()) / n
    converged = bool(minim.is_converged())
    steps = len(minim.__gc__)
    if converged and cell is not None and not cell.converged:
        converged = False
        reason = "stress differs from the target pressure by more than its error"
    elif converged:
        reason = "gradient below meaningful_factor x error"
    elif kong_liu < settings.kong_liu_ratio:
        reason = "Kong-Liu ratio below threshold"
    elif settings.max_steps > 0 and steps >= settings.max_steps:
        reason = "maximum number of steps"
    else:
        reason = "imaginary frequencies during the minimisation"
    gc, gc_err = (minim.__gc__[-1], minim.__gc_err__[-1]) if steps else (np.nan, np.nan)
    gw, gw_err = (minim.__gw__[-1], minim.__gw_err__[-1]) if steps else (np.nan, np.nan)
    return MinimizationResult(
        phonons=phonons,
        free_energy_ev=float(units.energy_ry_to_ev(np.real(free_energy))),
        free_energy_error_ev=float(units.energy_ry_to_ev(np.real(error))),
        kong_liu_ratio=kong_liu,
        gradient_ratio_fc=_ratio(float(gc), float(gc_err)),
        gradient_ratio_structure=_ratio(float(gw), float(gw_err)),
        frequencies_cm1=supercell_frequencies_cm1(phonons),
        converged=converged,
        n_steps=steps,
        stop_reason=reason,
        free_energy_trajectory_ev=[float(units.energy_ry_to_ev(np.real(f))) for f in minim.__fe__],
        log=log.getvalue(),
        ensemble=ensemble,
        cell=cell,
    )
