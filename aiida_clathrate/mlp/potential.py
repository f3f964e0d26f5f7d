"""A committee of attention networks (and a kernel member) with normalisation: prediction, save
and load."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .derivatives import StrainedConfiguration
from .descriptors import DescriptorSpec, compute_descriptors, shared_neighbours
from .featurisation import DTYPES
from .frames import Frame
from .kernel import KernelMember
from .messages import FramePairs, PairBatch, pair_vectors
from .neighbours import NeighbourCache
from .network import AttentionAtomicNetwork, NetworkSpec

FILE_FORMAT = "aiida-clathrate-mlp"
FILE_FORMAT_VERSION = 4
#: versions this package reads (1: one descriptor for every member; 2: no message passing;
#: 3: no kernel member)
READABLE_FORMAT_VERSIONS = (1, 2, 3, 4)
UNITS = {"energy": "eV", "length": "angstrom", "forces": "eV/angstrom", "stress": "eV/angstrom^3"}


class MemberPotential(nn.Module):
    """One committee member: normalisation buffers around an :class:`AttentionAtomicNetwork`."""

    def __init__(self, descriptor: DescriptorSpec, network: NetworkSpec) -> None:
        super().__init__()
        self.network = AttentionAtomicNetwork(descriptor, network)
        size, n_species = descriptor.size, descriptor.n_species
        # per centre element: environments of different elements differ far more than the
        # displacements that carry the forces
        self.register_buffer("feature_mean", torch.zeros(n_species, size))
        self.register_buffer("feature_std", torch.ones(n_species, size))
        self.register_buffer("energy_reference_ev", torch.zeros(n_species))
        self.register_buffer("energy_scale_ev", torch.ones(()))
        # per-element linear term on normalised descriptors, initialised by ridge regression
        self.linear_ev = nn.Parameter(torch.zeros(n_species, size))

    @property
    def uses_pairs(self) -> bool:
        """Whether the energies depend on the pair vectors too (message passing)."""
        return self.network.messages is not None

    def atomic_energies(
        self, features: torch.Tensor, species: torch.Tensor, pairs: PairBatch | None = None
    ) -> torch.Tensor:
        """Per-atom energies in eV (``pairs`` for a network with message passing)."""
        normalised = (features - self.feature_mean[species]) / self.feature_std[species]
        linear = (self.linear_ev[species] * normalised).sum(-1)
        return (
            self.energy_scale_ev * self.network(normalised, species, pairs)
            + linear
            + self.energy_reference_ev[species]
        )


@dataclasses.dataclass
class Prediction:
    """Committee prediction for one configuration (eV, eV/Å, eV/Å³ ASE convention)."""

    energy_ev: float
    forces_ev_per_angstrom: np.ndarray
    stress_ev_per_angstrom3: np.ndarray | None
    energy_std_ev: float
    member_energies_ev: np.ndarray
    forces_std_ev_per_angstrom: np.ndarray | None = None
    #: the kernel member's energy (``None``: the committee has none)
    kernel_energy_ev: float | None = None


class CommitteePotential(nn.Module):
    """Committee of :class:`MemberPotential`; the mean is the prediction.

    Members may use different descriptors (``member_descriptors``, one per member, same elements;
    default: ``descriptor`` for all), so that their errors are less correlated. With
    ``kernel_descriptor`` the committee also holds a :class:`~.kernel.KernelMember` and predicts
    ``(1 - kernel_weight) · network mean + kernel_weight · kernel``; the spread (energy and forces)
    is that of the networks.
    """

    def __init__(
        self,
        descriptor: DescriptorSpec,
        network: NetworkSpec,
        n_members: int = 4,
        dtype: str = "float64",
        metadata: dict | None = None,
        member_descriptors: Sequence[DescriptorSpec] | None = None,
        kernel_descriptor: DescriptorSpec | None = None,
        kernel_weight: float = 0.0,
    ) -> None:
        super().__init__()
        if n_members < 1:
            raise ValueError(f"committee needs at least one member, got {n_members}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        member_descriptors = list(member_descriptors or [descriptor] * n_members)
        if len(member_descriptors) != n_members:
            raise ValueError(
                f"{len(member_descriptors)} member descriptors given for {n_members} members"
            )
        if any(d.elements != descriptor.elements for d in member_descriptors):
            raise ValueError("every member descriptor must have the committee's elements")
        if kernel_descriptor is not None and kernel_descriptor.elements != descriptor.elements:
            raise ValueError("the kernel descriptor must have the committee's elements")
        if not 0.0 <= kernel_weight < 1.0 or (kernel_descriptor is None and kernel_weight):
            raise ValueError(
                f"kernel_weight must be in [0, 1) and 0 without a kernel member, got {kernel_weight}"
            )
        self.descriptor = descriptor
        self.member_descriptors = member_descriptors
        self.network_spec = network
        self.dtype_name = dtype
        self.metadata = dict(metadata or {})
        self.members = nn.ModuleList(MemberPotential(d, network) for d in member_descriptors)
        self.kernel = None if kernel_descriptor is None else KernelMember(kernel_descriptor)
        self.kernel_weight = float(kernel_weight)
        #: pairs of the last configuration, reused for the next one near it (an SSCHA population)
        self.neighbour_cache = NeighbourCache()
        self.to(DTYPES[dtype])

    @property
    def descriptor_groups(self) -> dict[DescriptorSpec, list[int]]:
        """Distinct member descriptors and the indices of the members using each."""
        groups: dict[DescriptorSpec, list[int]] = {}
        for index, spec in enumerate(self.member_descriptors):
            groups.setdefault(spec, []).append(index)
        return groups

    @property
    def feature_specs(self) -> list[DescriptorSpec]:
        """Every distinct descriptor the committee needs: the members' and the kernel's."""
        specs = list(self.descriptor_groups)
        if self.kernel is not None and self.kernel.descriptor not in specs:
            specs.append(self.kernel.descriptor)
        return specs

    def combine(self, network_mean: torch.Tensor, kernel: torch.Tensor | None) -> torch.Tensor:
        """The committee's prediction from the networks' mean and the kernel member's value
        (energies, forces or stresses)."""
        if kernel is None:
            return network_mean
        return (1.0 - self.kernel_weight) * network_mean + self.kernel_weight * kernel

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.dtype_name]

    @property
    def elements(self) -> tuple[str, ...]:
        return self.descriptor.elements

    def set_dtype(self, dtype: str) -> CommitteePotential:
        """Switch between float32 and float64 in place."""
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        self.dtype_name = dtype
        self.to(DTYPES[dtype])
        return self

    def member_energies(
        self,
        features: dict[DescriptorSpec, torch.Tensor],
        species: torch.Tensor,
        pairs: PairBatch | None = None,
    ) -> torch.Tensor:
        """Total energies per member (summed over the atom axis, -1 of ``species``) from the
        descriptors of each distinct member descriptor (and the pairs, for message passing)."""
        return torch.stack(
            [
                member.atomic_energies(features[spec], species, pairs).sum(-1)
                for member, spec in zip(self.members, self.member_descriptors, strict=True)
            ]
        )

    def predict(
        self,
        symbols: Sequence[str],
        positions_angstrom,
        cell_angstrom,
        pbc=(True, True, True),
        member_forces: bool = False,
    ) -> Prediction:
        """Energy, forces (−∂E/∂r) and stress ((1/V) ∂E/∂ε) of the committee mean, with spread."""
        configuration = StrainedConfiguration.build(
            positions_angstrom, cell_angstrom, pbc, self.dtype
        )
        positions, cell, pbc = configuration.positions, configuration.cell, configuration.pbc
        pos, lattice = configuration.strained_positions, configuration.strained_cell
        species = self.descriptor.species_indices(symbols)
        # one search (or a reuse) for the largest cutoff; every descriptor's lists are cut from it
        found = self.neighbour_cache.pairs(
            positions, cell, pbc, max(s.radial_cutoff_angstrom for s in self.feature_specs)
        )
        neighbour_lists = shared_neighbours(len(species), self.feature_specs, found)
        shared: dict = {}  # blocks that two descriptors have in common
        features = {
            spec: compute_descriptors(pos, lattice, species, neighbour_lists[spec], spec, shared)
            for spec in self.feature_specs
        }
        cutoff = self.network_spec.pair_cutoff_angstrom
        if cutoff is None:
            energies = self.member_energies(features, species)
        else:  # message passing: one configuration of a batch
            spec = max(self.descriptor_groups, key=lambda d: d.radial_cutoff_angstrom)
            radial = neighbour_lists[spec]
            frame_pairs = FramePairs.build(
                positions.detach(), cell, pbc, cutoff, radial.radial, spec.radial_cutoff_angstrom
            )
            pairs = PairBatch(
                torch.zeros_like(frame_pairs.centre),
                frame_pairs.centre,
                frame_pairs.neighbour,
                pair_vectors(
                    pos, lattice, frame_pairs.centre, frame_pairs.neighbour, frame_pairs.shift
                ),
            )
            batched = {spec: f[None] for spec, f in features.items()}
            energies = self.member_energies(batched, species[None], pairs)[:, 0]
        kernel = None
        if self.kernel is not None:
            kernel = self.kernel.atomic_energies(features[self.kernel.descriptor], species).sum()
        mean = self.combine(energies.mean(), kernel)
        forces_std = None
        if member_forces and len(self.members) > 1:
            # each member's gradients (and the kernel's), combined: one backward pass per
            # member through its own descriptors, none through all of them for the mean
            outputs = [*energies] + ([] if kernel is None else [kernel])
            gradients = [
                configuration.gradients(e, retain_graph=k < len(outputs) - 1)
                for k, e in enumerate(outputs)
            ]
            by_member = [torch.stack(g) for g in zip(*gradients[: len(energies)], strict=True)]
            forces_std = by_member[0].std(dim=0, unbiased=False).detach().numpy()
            combined = [
                self.combine(g.mean(dim=0), None if kernel is None else gradients[-1][k])
                for k, g in enumerate(by_member)
            ]
            forces, stress = configuration.forces_and_stress_from(*combined)
        else:
            forces, stress = configuration.forces_and_stress(mean)
        spread = energies.std(unbiased=False) if len(self.members) > 1 else energies.new_zeros(())
        return Prediction(
            energy_ev=float(mean.detach()),
            forces_ev_per_angstrom=forces,
            stress_ev_per_angstrom3=stress,
            energy_std_ev=float(spread.detach()),
            member_energies_ev=energies.detach().numpy(),
            forces_std_ev_per_angstrom=forces_std,
            kernel_energy_ev=None if kernel is None else float(kernel.detach()),
        )

    def predict_frame(self, frame: Frame, member_forces: bool = False) -> Prediction:
        return self.predict(
            frame.symbols,
            frame.positions_angstrom,
            frame.cell_angstrom,
            frame.pbc,
            member_forces=member_forces,
        )

    # ---- persistence ----------------------------------------------------------------------
    def to_payload(self) -> dict:
        return {
            "format": FILE_FORMAT,
            "format_version": FILE_FORMAT_VERSION,
            "package_version": _package_version(),
            "units": dict(UNITS),
            "elements": list(self.descriptor.elements),
            "descriptor": self.descriptor.as_dict(),
            "member_descriptors": [d.as_dict() for d in self.member_descriptors],
            "network": self.network_spec.as_dict(),
            "dtype": self.dtype_name,
            "metadata": self.metadata,
            "members": [
                {k: v.detach().cpu().clone() for k, v in m.state_dict().items()}
                for m in self.members
            ],
            "kernel": None
            if self.kernel is None
            else {
                "descriptor": self.kernel.descriptor.as_dict(),
                "weight": self.kernel_weight,
                "state": {k: v.detach().cpu().clone() for k, v in self.kernel.state_dict().items()},
            },
        }

    def save(self, path: str | pathlib.Path) -> pathlib.Path:
        """Write one file with weights, hyperparameters, elements, units and normalisation."""
        path = pathlib.Path(path)
        torch.save(self.to_payload(), path)
        return path

    @classmethod
    def from_payload(cls, payload: dict, source: str = "<payload>") -> CommitteePotential:
        if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
            raise ValueError(f"{source} is not an {FILE_FORMAT} model file")
        version = payload.get("format_version")
        if version not in READABLE_FORMAT_VERSIONS:
            raise ValueError(
                f"{source} has model file format version {version!r}; this aiida-clathrate reads "
                f"versions {list(READABLE_FORMAT_VERSIONS)} (file written by package version "
                f"{payload.get('package_version', 'unknown')}): retrain or convert the model"
            )
        try:
            descriptor = _descriptor_from_dict(payload["descriptor"])
            network = NetworkSpec(**payload["network"])
            members = payload["members"]
            kernel = payload.get("kernel")  # absent before version 4
            member_descriptors = [
                _descriptor_from_dict(d)
                for d in payload.get("member_descriptors") or [payload["descriptor"]] * len(members)
            ]
            model = cls(
                descriptor,
                network,
                n_members=len(members),
                dtype=payload.get("dtype", "float64"),
                metadata=payload.get("metadata", {}),
                member_descriptors=member_descriptors,
                kernel_descriptor=kernel and _descriptor_from_dict(kernel["descriptor"]),
                kernel_weight=kernel["weight"] if kernel else 0.0,
            )
            for member, state in zip(model.members, members, strict=True):
                member.load_state_dict(state)
            if kernel:
                model.kernel.load_state_dict(kernel["state"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise ValueError(f"{source} is a broken {FILE_FORMAT} model file: {exc}") from exc
        model.to(model.dtype)
        return model


def _descriptor_from_dict(values: dict) -> DescriptorSpec:
    return DescriptorSpec(**(dict(values) | {"elements": tuple(values["elements"])}))


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aiida-clathrate")
    except PackageNotFoundError:
        return "unknown"


def load_potential(path: str | pathlib.Path) -> CommitteePotential:
    """Load a committee saved by :meth:`CommitteePotential.save`, with clear errors."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt files
        raise ValueError(f"{path} is not a readable {FILE_FORMAT} model file: {exc}") from exc
    return CommitteePotential.from_payload(payload, source=str(path))
