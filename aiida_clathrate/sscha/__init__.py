"""Thin helpers over python-sscha / cellconstructor (no AiiDA import; python-sscha is imported
only when a function needs it).

Public API (unit conversions live in :mod:`aiida_clathrate.units`):
    load_phonons, save_phonons                  QE dyn files <-> cellconstructor Phonons
    phonons_from_force_constants                Γ-only Phonons from a force-constant matrix (eV/Å²)
    supercell_frequencies_cm1                   frequencies without translations (cm^-1)
    force_positive_definite                     ForcePositiveDefinite with a report
    generate_ensemble, ensemble_from_positions  seeded populations, rebuilt from positions
    ensemble_positions_angstrom                 positions of a population (Å)
    fill_ensemble_results                       energies/forces/stresses in ASE units + init()
    evaluate_with_calculator                    results from an ASE calculator (ASE units)
    MinimizerSettings, run_minimization         one SSCHA_Minimizer run -> MinimizationResult
    free_energy_hessian, v4_memory_bytes        Hessian with a v4 memory guard
    stability_verdict                           study's stability categories
    QuarticDimerCalculator                      model with a known SCHA answer
"""

from .dynamical_matrix import (
    force_positive_definite,
    load_phonons,
    phonons_from_force_constants,
    save_phonons,
    supercell_frequencies_cm1,
)
from .hessian import free_energy_hessian, v4_memory_bytes
from .minimize import MinimizationResult, MinimizerSettings, run_minimization
from .model_potentials import QuarticDimerCalculator, quartic_dimer_energies_forces
from .population import (
    ensemble_from_positions,
    ensemble_positions_angstrom,
    evaluate_with_calculator,
    fill_ensemble_results,
    generate_ensemble,
)
from .verdicts import stability_verdict

__all__ = [
    "MinimizationResult",
    "MinimizerSettings",
    "QuarticDimerCalculator",
    "ensemble_from_positions",
    "ensemble_positions_angstrom",
    "evaluate_with_calculator",
    "fill_ensemble_results",
    "force_positive_definite",
    "free_energy_hessian",
    "generate_ensemble",
    "load_phonons",
    "phonons_from_force_constants",
    "quartic_dimer_energies_forces",
    "run_minimization",
    "save_phonons",
    "stability_verdict",
    "supercell_frequencies_cm1",
    "v4_memory_bytes",
]
