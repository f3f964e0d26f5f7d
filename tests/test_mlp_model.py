"""Descriptors, neighbour lists, forces/stress, save/load and the ASE calculator of the MLP."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from aiida_clathrate.mlp import (
    DescriptorSpec,
    build_neighbours,
    compute_descriptors,
    read_frames,
)

torch.set_num_threads(1)
ELEMENTS = ("K", "Rb", "B", "C")


@pytest.fixture(scope="module")
def frames(shared_dir):
    return read_frames(shared_dir / "datasets/krbb6c6-displaced/krbb6c6_dft.xyz", index="0:6")


def _brute_force_descriptors(frame, spec: DescriptorSpec) -> np.ndarray:
    """Plain loops over atoms and periodic images (independent of the torch implementation)."""
    pos, cell = frame.positions_angstrom, frame.cell_angstrom
    species = [spec.elements.index(s) for s in frame.symbols]
    n_species = spec.n_species
    pairs = [(a, b) for a in range(n_species) for b in range(a, n_species)]
    images = range(-3, 4)
    out = []
    for i in range(len(pos)):
        radial = np.zeros((n_species, spec.radial_order + 1))
        close = []  # (vector, species) within the angular cutoff
        for j in range(len(pos)):
            for n in itertools.product(images, images, images):
                if i == j and n == (0, 0, 0):
                    continue
                v = pos[j] + np.array(n) @ cell - pos[i]
                r = float(np.linalg.norm(v))
                if r < spec.radial_cutoff_angstrom:
                    rc = spec.radial_cutoff_angstrom
                    fc = 0.5 * (math.cos(math.pi * r / rc) + 1)
                    x = 2 * r / rc - 1
                    for k in range(spec.radial_order + 1):
                        radial[species[j], k] += math.cos(k * math.acos(x)) * fc
                if r < spec.angular_cutoff_angstrom:
                    close.append((v, r, species[j]))
        angular = np.zeros((len(pairs), spec.angular_order + 1))
        ra = spec.angular_cutoff_angstrom
        for m, (vm, rm, sm) in enumerate(close):
            for p, (vp, rp, sp) in enumerate(close):
                if m == p:
                    continue
                cos = float(np.clip(vm @ vp / (rm * rp), -1, 1))
                w = 0.25 * (math.cos(math.pi * rm / ra) + 1) * (math.cos(math.pi * rp / ra) + 1)
                if sm > sp:  # G[a, b] with a <= b sums ordered pairs with s_m = a, s_p = b
                    continue
                channel = pairs.index((sm, sp))
                theta = math.acos(cos)
                for order in range(spec.angular_order + 1):
                    angular[channel, order] += math.cos(order * theta) * w
        out.append(np.concatenate([radial.ravel(), angular.ravel()]))
    return np.array(out)


def test_descriptors_match_brute_force_with_many_images(frames):
    """Cutoffs of 6 and 5 Å exceed half of the 4.8 Å cell: every image must be counted once."""
    spec = DescriptorSpec(ELEMENTS, radial_order=4, angular_order=3)
    frame = frames[0]
    assert spec.radial_cutoff_angstrom > frame.cell_angstrom[0, 0]
    pos = torch.tensor(frame.positions_angstrom)
    cell = torch.tensor(frame.cell_angstrom)
    neighbours = build_neighbours(pos, cell, frame.pbc, spec)
    got = compute_descriptors(pos, cell, spec.species_indices(frame.symbols), neighbours, spec)
    expected = _brute_force_descriptors(frame, spec)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-9)
