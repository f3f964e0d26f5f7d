"""Compare descriptor settings in seconds with a closed-form kernel model.

For each descriptor variant (``TrainingSettings`` descriptor fields over the shipped defaults), fit
a per-element polynomial-kernel ridge model ``E_atom = w_s·x + Σ_m α_m (x·z_m / D)²`` on energies
per atom and forces of the benchmark's training split (every training atom of element ``s`` is a
kernel centre ``z_m``; ``x`` the descriptor standardised per element, with the training code's
feature floor; prior ``α^T K α`` on the kernel weights, a small ridge on ``w``), and print its
test errors. No network, no training loop: a descriptor that lets this model fit
better is a candidate for the committee, which takes ten minutes per trial.

    .venv/bin/python benchmarks/mlp_kernel_probe.py --threads 2 [--seed S] \
        --variant '{}' --variant '{"angular_radial_order": 2, "angular_cutoff_angstrom": 3.5}'
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from mlp import DATA, split

from aiida_clathrate.mlp import load_potential, read_frames
from aiida_clathrate.mlp.descriptors import DescriptorSpec
from aiida_clathrate.mlp.potential import MemberPotential
from aiida_clathrate.mlp.training import (
    DESCRIPTOR_FIELDS,
    FeatureGroup,
    TrainingSettings,
    _element_order,
    _fit_normalisation,
    featurise,
)


def _standardisation(
    group: FeatureGroup, spec: DescriptorSpec
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-element mean and deviation of the descriptor, as a committee member's training fits
    them (deviations floored)."""
    member = MemberPotential(spec, TrainingSettings().network_spec()).double()
    _fit_normalisation(member, [group], spec.n_species)
    return member.feature_mean, member.feature_std


def kernel_design(
    group: FeatureGroup, mean: torch.Tensor, std: torch.Tensor, centres: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of energy per atom (B, P) and of forces (B·N·3, P): first the kernel weights (those
    of element ``s`` belong to the centres ``centres[s]``), then the linear weights per element."""
    n_frames, n_atoms = group.species.shape
    size = group.features.shape[-1]
    offsets = np.cumsum([0] + [len(c) for c in centres])
    n_columns = offsets[-1] + len(centres) * size
    energy_rows = torch.zeros((n_frames, n_columns), dtype=torch.float64)
    force_rows = torch.zeros((n_frames, n_atoms, 3, n_columns), dtype=torch.float64)
    for b in range(n_frames):
        species = group.species[b]
        x = (group.features[b] - mean[species]) / std[species]
        jac = group.jac_positions[b] / std[species][:, :, None, None]
        for s, z in enumerate(centres):
            atoms = (species == s).nonzero()[:, 0]
            if len(atoms) == 0 or len(z) == 0:
                continue
            columns = slice(offsets[s], offsets[s + 1])
            dot = x[atoms] @ z.T / size
            energy_rows[b, columns] = (dot**2).sum(0) / n_atoms
            z_jac = torch.einsum("md,idnc->imnc", z, jac[atoms])
            force_rows[b, :, :, columns] = -torch.einsum("im,imnc->ncm", 2 * dot / size, z_jac)
            linear = slice(offsets[-1] + s * size, offsets[-1] + (s + 1) * size)
            energy_rows[b, linear] = x[atoms].sum(0) / n_atoms
            force_rows[b, :, :, linear] = -jac[atoms].sum(0).permute(1, 2, 0)
    return energy_rows, force_rows.reshape(-1, n_columns)


def probe(
    train_frames,
    test_frames,
    spec: DescriptorSpec,
    energy_sigma_ev_per_atom: float,
    force_sigma_ev_per_angstrom: float,
    regularisation: float,
    linear_regularisation: float,
) -> dict:
    """Fit the kernel model with descriptor ``spec`` and return its train and test errors."""
    start = time.perf_counter()
    (train,) = featurise(train_frames, spec, "float64")
    (test,) = featurise(test_frames, spec, "float64")
    featurise_s = time.perf_counter() - start
    n_species, n_atoms = spec.n_species, train.n_atoms
    mean, std = _standardisation(train, spec)
    x = ((train.features - mean[train.species]) / std[train.species]).reshape(-1, spec.size)
    centres = [x[train.species.reshape(-1) == s] for s in range(n_species)]
    reference = float((train.energy / n_atoms).mean())
    energy_rows, force_rows = kernel_design(train, mean, std, centres)
    design = torch.cat(
        [energy_rows / energy_sigma_ev_per_atom, force_rows / force_sigma_ev_per_angstrom]
    )
    target = torch.cat(
        [
            (train.energy / n_atoms - reference) / energy_sigma_ev_per_atom,
            train.forces.reshape(-1) / force_sigma_ev_per_angstrom,
        ]
    )
    kernel = torch.block_diag(*[(z @ z.T / spec.size) ** 2 for z in centres])
    kernel += 1e-8 * kernel.diagonal().mean() * torch.eye(len(kernel), dtype=torch.float64)
    ridge = linear_regularisation * torch.eye(n_species * spec.size, dtype=torch.float64)
    prior = torch.block_diag(kernel, ridge)
    weights = torch.linalg.solve(design.T @ design + regularisation * prior, design.T @ target)
    fit_s = time.perf_counter() - start - featurise_s

    out = {"descriptor_size": spec.size, "featurise_s": featurise_s, "fit_s": fit_s}
    # one group of one atom count (unpacked above): its frames are in the given order
    for name, group, (rows_e, rows_f) in (
        ("train", train, (energy_rows, force_rows)),
        ("test", test, kernel_design(test, mean, std, centres)),
    ):
        energy = (rows_e @ weights + reference).numpy()
        forces = (rows_f @ weights).reshape(group.forces.shape).numpy()
        out[f"{name}_energy_ev_per_atom"], out[f"{name}_forces_ev_per_angstrom"] = energy, forces
        out[f"{name}_energy_rmse_mev_per_atom"] = _rmse_milli(
            energy - (group.energy / n_atoms).numpy()
        )
        out[f"{name}_forces_rmse_mev_per_angstrom"] = _rmse_milli(forces - group.forces.numpy())
    return out


def _rmse_milli(errors: np.ndarray) -> float:
    """RMSE in milli-units (meV/atom, meV/Å) of errors in eV/atom or eV/Å."""
    return float(np.sqrt(np.mean(errors**2)) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--seed", type=int, default=0, help="seed of the 80/20 split")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--variant",
        action="append",
        type=json.loads,
        help="descriptor fields over the shipped defaults, JSON (repeatable; default '{}')",
    )
    parser.add_argument("--energy-sigma", type=float, default=5e-4, help="eV/atom")
    parser.add_argument("--force-sigma", type=float, default=0.04, help="eV/Å")
    parser.add_argument("--regularisation", type=float, default=1000.0)
    parser.add_argument(
        "--linear-regularisation",
        type=float,
        default=0.01,
        help="ridge on the linear weights, relative to the kernel prior",
    )
    parser.add_argument(
        "--model",
        help="a committee saved by benchmarks/mlp.py --save on the same split: also print how "
        "its test energy errors correlate with each kernel model's, and the errors of weighted "
        "means of the two",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    frames = read_frames(args.data)
    train_idx, test_idx = split(len(frames), args.seed)
    train, test = [frames[i] for i in train_idx], [frames[i] for i in test_idx]
    elements = tuple(sorted({s for f in frames for s in f.symbols}, key=_element_order))
    settings = TrainingSettings()
    base = {name: getattr(settings, name) for name in DESCRIPTOR_FIELDS}
    print(f"split seed {args.seed}: {len(train)} training / {len(test)} test frames")
    label_energy = np.array([f.energy_ev / f.n_atoms for f in test])
    label_forces = np.array([f.forces_ev_per_angstrom for f in test])
    committee = None
    if args.model:
        model = load_potential(args.model)
        predictions = [model.predict_frame(f) for f in test]
        committee = (
            np.array([p.energy_ev / f.n_atoms for p, f in zip(predictions, test, strict=True)]),
            np.array([p.forces_ev_per_angstrom for p in predictions]),
        )
        print(
            f"committee {args.model}: test energy / force RMSE "
            f"{_rmse_milli(committee[0] - label_energy):.3f} / "
            f"{_rmse_milli(committee[1] - label_forces):.1f}"
        )
    print("| descriptor variant | D | test energy / force RMSE | train | descriptors, fit (s) |")
    print("|---|---|---|---|---|")
    for variant in args.variant or [{}]:
        try:  # the training code's check of a descriptor variant
            TrainingSettings(descriptor_variants=(variant,))
        except ValueError as exc:
            parser.error(f"--variant {json.dumps(variant)}: {exc}")
        spec = DescriptorSpec(elements=elements, **(base | variant))
        out = probe(
            train,
            test,
            spec,
            args.energy_sigma,
            args.force_sigma,
            args.regularisation,
            args.linear_regularisation,
        )
        print(
            f"| `{json.dumps(variant)}` | {out['descriptor_size']} | "
            f"{out['test_energy_rmse_mev_per_atom']:.3f} / "
            f"{out['test_forces_rmse_mev_per_angstrom']:.1f} | "
            f"{out['train_energy_rmse_mev_per_atom']:.3f} / "
            f"{out['train_forces_rmse_mev_per_angstrom']:.1f} | "
            f"{out['featurise_s']:.0f}, {out['fit_s']:.0f} |",
            flush=True,
        )
        if committee is None:
            continue
        kernel = (out["test_energy_ev_per_atom"], out["test_forces_ev_per_angstrom"])
        correlation = np.corrcoef(kernel[0] - label_energy, committee[0] - label_energy)[0, 1]
        print(f"  correlation of its test energy errors with the committee's: {correlation:.2f}")
        for weight in (0.2, 0.3, 0.4, 0.5):
            energy, forces = (
                weight * k + (1 - weight) * c for k, c in zip(kernel, committee, strict=True)
            )
            print(
                f"  {weight:.1f} kernel + {1 - weight:.1f} committee: test energy / force RMSE "
                f"{_rmse_milli(energy - label_energy):.3f} / "
                f"{_rmse_milli(forces - label_forces):.1f}"
            )


if __name__ == "__main__":
    main()
