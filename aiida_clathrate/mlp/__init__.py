"""Machine-learning interatomic potential for clathrates (plain torch; no AiiDA import).

Public API:
    read_frames, write_frames, Frame            labelled configurations (extxyz / ASE)
    TrainingSettings, train_committee           training with metrics and learning curve
    CommitteePotential, load_potential          prediction, save/load
    MlpCalculator                               ASE calculator (energy, forces, stress, spread)
    DescriptorSpec, compute_descriptors         Chebyshev descriptors
"""

import importlib

#: Where each public name lives. The submodules are imported on first use (PEP 562), so that
#: importing ``aiida_clathrate.mlp.uncertainty`` or ``.frames`` (the SSCHA work chain does, in
#: every daemon worker) does not import torch (about 1 s).
_LOCATIONS = {
    "MlpCalculator": "calculator",
    "DescriptorSpec": "descriptors",
    "build_neighbours": "descriptors",
    "compute_descriptors": "descriptors",
    "Frame": "frames",
    "frame_from_atoms": "frames",
    "frame_to_atoms": "frames",
    "read_frames": "frames",
    "write_frames": "frames",
    "NetworkSpec": "network",
    "CommitteePotential": "potential",
    "Prediction": "potential",
    "load_potential": "potential",
    "TrainingResult": "training",
    "TrainingSettings": "training",
    "train_committee": "training",
}


def __getattr__(name: str):
    if name in _LOCATIONS:
        return getattr(importlib.import_module(f".{_LOCATIONS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
