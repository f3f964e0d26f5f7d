"""Machine-learning interatomic potential for clathrates (plain torch; no AiiDA import).

Public API:
    read_frames, write_frames, Frame            labelled configurations (extxyz / ASE)
    TrainingSettings, train_committee           training with metrics and learning curve
    CommitteePotential, load_potential          prediction, save/load
    MlpCalculator                               ASE calculator (energy, forces, stress, spread)
    DescriptorSpec, compute_descriptors         Chebyshev descriptors
"""

from .calculator import MlpCalculator
from .descriptors import DescriptorSpec, build_neighbours, compute_descriptors
from .frames import Frame, frame_from_atoms, frame_to_atoms, read_frames, write_frames
from .network import NetworkSpec
from .potential import CommitteePotential, Prediction, load_potential
from .training import TrainingResult, TrainingSettings, train_committee

__all__ = [
    "CommitteePotential",
    "DescriptorSpec",
    "Frame",
    "MlpCalculator",
    "NetworkSpec",
    "Prediction",
    "TrainingResult",
    "TrainingSettings",
    "build_neighbours",
    "compute_descriptors",
    "frame_from_atoms",
    "frame_to_atoms",
    "load_potential",
    "read_frames",
    "train_committee",
    "write_frames",
]
