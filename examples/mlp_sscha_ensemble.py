"""Evaluate a python-sscha ensemble with a trained MLP (no AiiDA needed).

python examples/mlp_sscha_ensemble.py model.pt dyn_prefix_ n_qirr n_configurations
"""

from __future__ import annotations

import sys

import cellconstructor.Phonons
import numpy as np
import sscha.Ensemble

from aiida_clathrate.mlp import MlpCalculator


def main(model: str, dyn_prefix: str, nqirr: int, n_configurations: int) -> None:
    dyn = cellconstructor.Phonons.Phonons(dyn_prefix, nqirr)
    np.random.seed(0)
    ensemble = sscha.Ensemble.Ensemble(dyn, 0.0, dyn.GetSupercell())
    ensemble.generate(n_configurations)
    calculator = MlpCalculator(model, dtype="float32")
    ensemble.compute_ensemble(calculator, compute_stress=True)
    print("mean energy (Ry):", ensemble.energies.mean())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
