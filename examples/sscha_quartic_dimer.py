"""SSCHA on the quartic dimer without AiiDA: compare with the self-consistent harmonic answer.

    python examples/sscha_quartic_dimer.py [--configurations 1000] [--populations 4]

Prints each population's auxiliary frequency (cm^-1), free energy (eV) and Kong-Liu ratio, and
the exact SCHA frequency from mu w^2 = k + 3 g <x^2>, <x^2> = hbar / (2 mu w) (0 K).
"""

from __future__ import annotations

import argparse

import numpy as np
from ase import Atoms
from scipy import constants as c
from scipy.optimize import brentq

from aiida_clathrate.sscha.dynamical_matrix import (
    phonons_from_force_constants,
    supercell_frequencies_cm1,
)
from aiida_clathrate.sscha.minimize import MinimizerSettings, run_minimization
from aiida_clathrate.sscha.model_potentials import quartic_dimer_energies_forces
from aiida_clathrate.sscha.population import (
    ensemble_positions_angstrom,
    fill_ensemble_results,
    generate_ensemble,
)

K_EV_PER_A2, G_EV_PER_A4 = 10.0, 50.0


def exact_cm1(mu_amu: float) -> float:
    k, g, mu = K_EV_PER_A2 * c.e / 1e-20, G_EV_PER_A4 * c.e / 1e-40, mu_amu * c.atomic_mass
    w = brentq(lambda w: mu * w**2 - k - 3 * g * c.hbar / (2 * mu * w), 1e13, 1e16)
    return w / (2 * np.pi * c.c * 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configurations", type=int, default=1000)
    parser.add_argument("--populations", type=int, default=4)
    args = parser.parse_args()
    atoms = Atoms("H2", positions=[[0, 0, 0], [2, 2, 2]], cell=np.eye(3) * 4, pbc=True)
    block = K_EV_PER_A2 * np.eye(3)
    phonons = phonons_from_force_constants(atoms, np.block([[block, -block], [-block, block]]))
    print(
        f"harmonic {supercell_frequencies_cm1(phonons)[0]:.2f} cm^-1, exact SCHA "
        f"{exact_cm1(atoms.get_masses()[0] / 2):.2f} cm^-1"
    )
    for population in range(args.populations):
        ensemble = generate_ensemble(phonons, 0.0, args.configurations, seed=population + 1)
        energies, forces = quartic_dimer_energies_forces(
            ensemble_positions_angstrom(ensemble), atoms.get_positions(), K_EV_PER_A2, G_EV_PER_A4
        )
        fill_ensemble_results(ensemble, energies, forces)
        result = run_minimization(ensemble, MinimizerSettings())
        phonons = result.phonons
        print(
            f"population {population + 1}: {result.frequencies_cm1[0]:.2f} cm^-1, F = "
            f"{result.free_energy_ev:.5f} +- {result.free_energy_error_ev:.5f} eV, Kong-Liu "
            f"{result.kong_liu_ratio:.3f}, converged {result.converged}"
        )


if __name__ == "__main__":
    main()
