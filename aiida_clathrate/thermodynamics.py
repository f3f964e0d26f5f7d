"""Thermodynamics of a clathrate against its elements: formation enthalpy, configurational entropy,
the temperature T*(P) at which the free-energy penalty vanishes and the synthesis window.

Plain Python (ASE + numpy); nothing here imports AiiDA.

* Formation enthalpy per atom: ``ΔH = [H(compound) − Σ_e n_e h_e] / N`` with ``H = E + P V`` and
  ``h_e`` the lowest enthalpy per atom among the candidate phases of element ``e`` at that pressure
  (:data:`ELEMENT_PHASES`).
* Configurational entropy (ideal mixing, in k_B per atom of the ordered cell): each sublattice with
  site fractions ``c_i`` contributes ``−(sites/atoms) Σ c_i ln c_i``. Model ``guests_and_framework``
  mixes X/Y on the guest sites and B/C on the framework sites (k_B ln 2 per atom for XYB6C6);
  ``guests`` mixes only the guests (none for XB3C3); ``framework`` only B/C.
* ``T*(P) = ΔH(P) / S``: above T* the disordered compound's free energy ``ΔH − T S`` falls below
  that of the elements. T* = 0 where ΔH ≤ 0; no finite T* where ΔH > 0 and S = 0.
* The synthesis pressure at a temperature ``T_max`` (the study quotes 4000 K): the lowest pressure
  where T*(P) ≤ T_max, linear in P between the computed pressures.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
from ase import Atoms
from ase.spacegroup import crystal

from .structures import FRAMEWORK_ELEMENTS, METAL_VALENCES
from .units import EV_PER_ANGSTROM3_TO_GPA, KB_MEV_PER_KELVIN

#: Boltzmann constant (eV/K).
_KB_EV_PER_K = 1e-3 * KB_MEV_PER_KELVIN

#: Candidate phases of each element. The reference of an element at a pressure is the phase of
#: lowest enthalpy among these, so phase changes between them (K bcc -> fcc at about 11 GPa,
#: Sr fcc -> bcc at 3.5 GPa, Ca fcc -> bcc -> simple cubic, Ba bcc -> hcp, Pb fcc -> hcp at
#: 13 GPa) come out of the relaxations. The incommensurate host-guest phases of K, Rb, Cs, Sr and Ba
#: are not built: where one of them is the true ground state, the reference enthalpy is too high and
#: the compound looks more stable than it is.
ELEMENT_PHASES: dict[str, tuple[str, ...]] = {
    "B": ("alpha_B12",),
    "C": ("diamond", "graphite"),
    "Na": ("bcc", "fcc", "hcp"),
    "K": ("bcc", "fcc"),
    "Rb": ("bcc", "fcc"),
    "Cs": ("bcc", "fcc"),
    "Mg": ("hcp", "bcc"),
    "Ca": ("fcc", "bcc", "sc"),
    "Sr": ("fcc", "bcc"),
    "Ba": ("bcc", "hcp"),
    "Sn": ("alpha_Sn", "beta_Sn", "bcc"),
    "Pb": ("fcc", "hcp", "bcc"),
    "Sc": ("hcp", "fcc"),
    "Y": ("hcp", "fcc"),
    "La": ("hcp", "fcc"),
    "Al": ("fcc", "hcp"),
    "Ga": ("alpha_Ga", "fcc"),
    "In": ("bct_In", "fcc"),
    "Tl": ("hcp", "bcc", "fcc"),
}

#: Volume per atom (Å³) near ambient conditions and bulk modulus (GPa): only the starting cell of a
#: relaxation (Murnaghan with B' = 4 scales it to the pressure), not a result.
_START_VOLUME_ANGSTROM3: dict[str, tuple[float, float]] = {
    "Na": (39.5, 6.3),
    "K": (75.0, 3.1),
    "Rb": (92.6, 2.5),
    "Cs": (115.0, 1.6),
    "Mg": (23.2, 35.0),
    "Ca": (43.6, 17.0),
    "Sr": (56.3, 12.0),
    "Ba": (63.4, 9.6),
    "Sn": (27.0, 58.0),
    "Pb": (30.3, 46.0),
    "Sc": (25.0, 57.0),
    "Y": (33.0, 41.0),
    "La": (37.4, 28.0),
    "Al": (16.6, 76.0),
    "Ga": (19.6, 56.0),
    "In": (26.2, 41.0),
    "Tl": (28.6, 43.0),
    "B": (7.2, 220.0),
    "C": (5.7, 440.0),
}
#: Phases whose volume differs too much from the element's first phase for the table above.
_PHASE_START_VOLUME_ANGSTROM3: dict[str, tuple[float, float]] = {"graphite": (8.8, 34.0)}

#: Configurational-entropy models (:func:`configurational_entropy_kb_per_atom`).
ENTROPY_MODELS = ("guests_and_framework", "guests", "framework")


def known_elements() -> tuple[str, ...]:
    """Elements with reference phases: the framework and every guest metal the package knows."""
    return tuple(ELEMENT_PHASES)


def phases_of(element: str) -> tuple[str, ...]:
    """The candidate phases of ``element``; ``ValueError`` for an element without references."""
    if element not in ELEMENT_PHASES:
        raise ValueError(
            f"no reference phases for element {element!r}; known: {', '.join(known_elements())}"
        )
    return ELEMENT_PHASES[element]


def start_volume_angstrom3(element: str, pressure_gpa: float, phase: str | None = None) -> float:
    """Starting volume per atom at ``pressure_gpa`` (Murnaghan, B' = 4, from the ambient table)."""
    volume, bulk_modulus = _PHASE_START_VOLUME_ANGSTROM3.get(
        phase, _START_VOLUME_ANGSTROM3[element]
    )
    return volume * (1.0 + 4.0 * max(pressure_gpa, 0.0) / bulk_modulus) ** -0.25


def reference_phase(element: str, phase: str, pressure_gpa: float = 0.0) -> Atoms:
    """The primitive cell of ``phase`` of ``element``, scaled to a starting volume for
    ``pressure_gpa``. ``ValueError`` for a phase that is not a candidate of the element."""
    if phase not in phases_of(element):
        raise ValueError(
            f"{phase!r} is not a reference phase of {element}; candidates: {phases_of(element)}"
        )
    atoms = _PHASE_BUILDERS[phase](element)
    volume = start_volume_angstrom3(element, pressure_gpa, phase) * len(atoms)
    atoms.set_cell(atoms.cell * np.cbrt(volume / atoms.get_volume()), scale_atoms=True)
    return atoms


def _cubic(element: str, kind: str) -> Atoms:
    vectors = {
        "sc": np.eye(3),
        "bcc": 0.5 * (np.ones((3, 3)) - 2.0 * np.eye(3)),
        "fcc": 0.5 * (np.ones((3, 3)) - np.eye(3)),
    }[kind]
    return Atoms(element, cell=vectors, pbc=True)


def _hcp(element: str) -> Atoms:
    return crystal(
        element,
        [(1 / 3, 2 / 3, 0.25)],
        spacegroup=194,
        cellpar=[1.0, 1.0, math.sqrt(8 / 3), 90, 90, 120],
    )


def _diamond(element: str) -> Atoms:
    return crystal(
        element, [(0, 0, 0)], spacegroup=227, cellpar=[1, 1, 1, 90, 90, 90], primitive_cell=True
    )


def _graphite(element: str) -> Atoms:
    return crystal(
        [element] * 2,
        [(0, 0, 0.25), (1 / 3, 2 / 3, 0.25)],
        spacegroup=194,
        cellpar=[2.46, 2.46, 6.70, 90, 90, 120],
    )


def _alpha_boron(element: str) -> Atoms:
    """alpha-B12 (R-3m, 12 atoms), hexagonal setting a = 4.908 Å, c = 12.567 Å, two 18h orbits."""
    return crystal(
        [element] * 2,
        [(0.11886, 0.88114, 0.89133), (0.19686, 0.80314, 0.02432)],
        spacegroup=166,
        cellpar=[4.908, 4.908, 12.567, 90, 90, 120],
        primitive_cell=True,
    )


def _beta_tin(element: str) -> Atoms:
    """beta-Sn (I4_1/amd, origin choice 1, 4a), 2 atoms."""
    return crystal(
        element,
        [(0, 0, 0)],
        spacegroup=141,
        cellpar=[5.83, 5.83, 3.18, 90, 90, 90],
        primitive_cell=True,
    )


def _bct_indium(element: str) -> Atoms:
    """In (I4/mmm, c/a = 1.52), 1 atom."""
    return crystal(
        element, [(0, 0, 0)], spacegroup=139, cellpar=[3.25, 3.25, 4.95, 90, 90, 90],
        primitive_cell=True,
    )  # fmt: skip


def _alpha_gallium(element: str) -> Atoms:
    """alpha-Ga (Cmce, 8f at (0, 0.1549, 0.0810)), 4 atoms."""
    return crystal(
        element,
        [(0, 0.1549, 0.0810)],
        spacegroup=64,
        cellpar=[4.52, 7.66, 4.53, 90, 90, 90],
        primitive_cell=True,
    )


_PHASE_BUILDERS = {
    "sc": lambda e: _cubic(e, "sc"),
    "bcc": lambda e: _cubic(e, "bcc"),
    "fcc": lambda e: _cubic(e, "fcc"),
    "hcp": _hcp,
    "diamond": _diamond,
    "alpha_Sn": _diamond,
    "graphite": _graphite,
    "alpha_B12": _alpha_boron,
    "beta_Sn": _beta_tin,
    "bct_In": _bct_indium,
    "alpha_Ga": _alpha_gallium,
}


def enthalpy_ev(energy_ev: float, volume_angstrom3: float, pressure_gpa: float) -> float:
    """H = E + P V (eV) for a total energy (eV), a cell volume (Å³) and a pressure (GPa)."""
    return float(energy_ev) + float(pressure_gpa) / EV_PER_ANGSTROM3_TO_GPA * float(
        volume_angstrom3
    )


def element_references(
    candidates: Mapping[str, Mapping[str, float]],
) -> dict[str, tuple[str, float]]:
    """The reference of each element: ``{element: (phase, enthalpy eV/atom)}`` of the lowest
    enthalpy per atom among ``candidates`` (``{element: {phase: eV/atom}}``)."""
    references = {}
    for element, phases in candidates.items():
        if not phases:
            raise ValueError(f"no relaxed phase of {element}")
        phase = min(phases, key=phases.get)
        references[element] = (phase, float(phases[phase]))
    return references


def formation_enthalpy_ev_per_atom(
    compound_enthalpy_ev: float,
    composition: Mapping[str, int],
    reference_enthalpy_ev_per_atom: Mapping[str, float],
) -> float:
    """ΔH per atom (eV) of a cell with ``composition`` (``{element: count}``) and enthalpy
    ``compound_enthalpy_ev`` against elemental enthalpies per atom."""
    missing = sorted(set(composition) - set(reference_enthalpy_ev_per_atom))
    if missing:
        raise ValueError(f"no elemental reference for {missing}")
    n_atoms = sum(composition.values())
    if n_atoms <= 0:
        raise ValueError("empty composition")
    elements = sum(n * reference_enthalpy_ev_per_atom[e] for e, n in composition.items())
    return (float(compound_enthalpy_ev) - elements) / n_atoms


def _mixing_kb(site_counts: Sequence[int]) -> float:
    """−Σ n_i ln(n_i/N) (k_B): the ideal-mixing entropy of a sublattice holding ``site_counts``."""
    total = sum(site_counts)
    return -sum(n * math.log(n / total) for n in site_counts if n > 0)


def configurational_entropy_kb_per_atom(
    symbols: Sequence[str], model: str = "guests_and_framework"
) -> float:
    """Ideal-mixing configurational entropy of the disordered compound (k_B per atom).

    ``symbols`` are the atoms of the ordered cell; guests are the metals, the framework is B and C.
    ``guests_and_framework``: X/Y disordered over the guest sites and B/C over the framework sites;
    ``guests``: only the guests; ``framework``: only B/C.
    """
    if model not in ENTROPY_MODELS:
        raise ValueError(f"unknown entropy model {model!r}; known: {', '.join(ENTROPY_MODELS)}")
    counts = Counter(symbols)
    unknown = sorted(set(counts) - set(METAL_VALENCES) - set(FRAMEWORK_ELEMENTS))
    if unknown or not counts:
        raise ValueError(f"not a clathrate composition: {dict(counts)}")
    guests = [n for e, n in counts.items() if e not in FRAMEWORK_ELEMENTS]
    framework = [n for e, n in counts.items() if e in FRAMEWORK_ELEMENTS]
    entropy = 0.0
    if model in ("guests_and_framework", "guests"):
        entropy += _mixing_kb(guests)
    if model in ("guests_and_framework", "framework"):
        entropy += _mixing_kb(framework)
    return entropy / len(symbols)


def synthesis_temperature_k(
    formation_enthalpy_ev_per_atom_: float, entropy_kb_per_atom: float
) -> float | None:
    """T* = ΔH / S (K): 0 where ΔH ≤ 0, ``None`` (no finite temperature) where ΔH > 0 and S = 0."""
    if formation_enthalpy_ev_per_atom_ <= 0.0:
        return 0.0
    if entropy_kb_per_atom <= 0.0:
        return None
    return formation_enthalpy_ev_per_atom_ / (entropy_kb_per_atom * _KB_EV_PER_K)


def lowest_pressure_below(
    pressures_gpa: Sequence[float], values: Sequence[float | None], threshold: float
) -> float | None:
    """The lowest pressure at which ``values`` (``None`` = infinite) fall to ``threshold`` or
    below, linear between neighbouring pressures; ``None`` if they never do."""
    points = sorted(zip(pressures_gpa, values, strict=True))
    previous = None
    for pressure, value in points:
        if value is not None and value <= threshold:
            if previous is None or previous[1] is None:
                return float(pressure)
            p0, v0 = previous
            return float(p0 + (threshold - v0) * (pressure - p0) / (value - v0))
        previous = (pressure, value)
    return None


def synthesis_window(
    pressures_gpa: Sequence[float],
    formation_enthalpy_ev_per_atom_: Sequence[float],
    entropy_kb_per_atom: float,
    temperature_max_k: float = 4000.0,
) -> dict:
    """T*(P) at each pressure, the lowest pressure where T* ≤ ``temperature_max_k`` and the lowest
    pressure where ΔH ≤ 0 (the compound stable against its elements at 0 K); ``None`` where the
    computed pressures do not reach it."""
    temperatures = [
        synthesis_temperature_k(dh, entropy_kb_per_atom) for dh in formation_enthalpy_ev_per_atom_
    ]
    return {
        "synthesis_temperature_k": temperatures,
        "temperature_max_k": float(temperature_max_k),
        "synthesis_pressure_gpa": lowest_pressure_below(
            pressures_gpa, temperatures, temperature_max_k
        ),
        "stable_pressure_gpa": lowest_pressure_below(
            pressures_gpa, list(formation_enthalpy_ev_per_atom_), 0.0
        ),
    }


def format_thermodynamics(data: Mapping) -> str:
    """A text table of ``formation_thermodynamics``'s output: ΔH, the reference phases and T* per
    pressure, then the synthesis and stability pressures of each entropy model."""
    lines = [
        f"{data['formula']}: formation enthalpy against the elements "
        f"(entropy model {data['entropy_model']}, S = "
        f"{data['configurational_entropy_kb_per_atom']:.3f} k_B/atom)",
        f"{'P (GPa)':>8} {'ΔH (meV/atom)':>14} {'T* (K)':>8} {'a (Å)':>7}  references",
    ]
    for row in data["rows"]:
        t_star = row["synthesis_temperature_k"]
        phases = ", ".join(f"{e} {p}" for e, p in row["reference_phases"].items())
        lines.append(
            f"{row['pressure_gpa']:>8g} {row['formation_enthalpy_mev_atom']:>14.1f} "
            f"{'-' if t_star is None else f'{t_star:.0f}':>8} "
            f"{row['lattice_parameter_angstrom']:>7.4f}  {phases}"
        )
    top = max(data["pressures_gpa"])
    t_max = data["temperature_max_k"]

    def _pressure(value: float | None) -> str:
        return f"> {top:g} GPa" if value is None else f"{value:.1f} GPa"

    lines.append(
        f"synthesis pressure at {t_max:.0f} K: {_pressure(data['synthesis_pressure_gpa'])}; "
        f"ΔH ≤ 0 from {_pressure(data['stable_pressure_gpa'])}"
    )
    for model, values in data.get("by_entropy_model", {}).items():
        lines.append(
            f"  {model:<22} S = {values['configurational_entropy_kb_per_atom']:.3f} k_B/atom, "
            f"synthesis pressure {_pressure(values['synthesis_pressure_gpa'])}"
        )
    for gap in data.get("missing", []):
        lines.append(f"  {gap['pressure_gpa']:g} GPa left out: no relaxation of {gap['lacking']}")
    return "\n".join(lines)
