"""Screening by the density of states at the Fermi level (no AiiDA): the study's first step.

The study ranks every guest pair XY by N(E_F), the density of states at the Fermi level in
states/eV per B6C6 formula unit (both spins), against KPbB6C6; the pairs above it go on to the
SSCHA. The projected DOS shows that the B–C framework carries N(E_F) and that the average guest
valence places E_F on a DOS peak (+1 highest). Both 14-atom cells (XYB6C6 in Pm-3 and XB3C3's
conventional X2B6C6 in Pm-3n) hold one B6C6 unit, so the DOS per cell is the DOS per B6C6.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from .structures import average_valence

#: The study's reference pair: the pairs with a higher N(E_F) go on to the SSCHA.
REFERENCE_PAIR = ("K", "Pb")
#: Half-width of the energy window N(E_F) is averaged over (eV): the nscf k-mesh of a screen is
#: coarse, so the DOS at one energy is noisy; the window is well inside the DOS peaks (~0.5 eV wide).
FERMI_WINDOW_EV = 0.05
#: Gaussian smoothing (eV) of the DOS before its peaks are located.
PEAK_SMOOTHING_EV = 0.1


@dataclasses.dataclass(frozen=True)
class FermiLevelDos:
    """What the screen records per pair (energies relative to E_F in eV)."""

    n_ef_states_per_ev_b6c6: float
    framework_share: float | None
    fermi_energy_ev: float
    peak_below_ev: float | None
    peak_above_ev: float | None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def window_average(
    energies_ev: np.ndarray, values: np.ndarray, centre_ev: float, half_width_ev: float
) -> float:
    """The mean of ``values`` over [centre − w, centre + w] (trapezoidal on the given grid, with
    the window's ends interpolated); ``ValueError`` when the window leaves the grid."""
    energies_ev = np.asarray(energies_ev, dtype=float)
    values = np.asarray(values, dtype=float)
    if energies_ev.ndim != 1 or energies_ev.shape != values.shape or len(energies_ev) < 2:
        raise ValueError("energies and values must be 1-d arrays of the same length (>= 2)")
    if np.any(np.diff(energies_ev) <= 0):
        raise ValueError("energies must increase")
    if half_width_ev <= 0:
        raise ValueError(f"half width must be positive, got {half_width_ev}")
    low, high = centre_ev - half_width_ev, centre_ev + half_width_ev
    if low < energies_ev[0] or high > energies_ev[-1]:
        raise ValueError(
            f"window [{low:.3f}, {high:.3f}] eV leaves the DOS grid "
            f"[{energies_ev[0]:.3f}, {energies_ev[-1]:.3f}] eV"
        )
    inside = (energies_ev > low) & (energies_ev < high)
    grid = np.concatenate([[low], energies_ev[inside], [high]])
    curve = np.interp(grid, energies_ev, values)
    return float(np.trapezoid(curve, grid) / (high - low))


def dos_peaks_around(
    energies_ev: np.ndarray,
    dos: np.ndarray,
    fermi_energy_ev: float,
    smoothing_ev: float = PEAK_SMOOTHING_EV,
) -> tuple[float | None, float | None]:
    """Energies (relative to E_F, eV) of the nearest local maxima of the Gaussian-smoothed DOS
    below and above E_F (``None`` where there is none on the grid)."""
    energies_ev = np.asarray(energies_ev, dtype=float)
    dos = np.asarray(dos, dtype=float)
    step = float(np.median(np.diff(energies_ev)))
    sigma = max(smoothing_ev / step, 1e-9)
    half = int(np.ceil(4 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    smooth = np.convolve(dos, kernel / kernel.sum(), mode="same")
    interior = np.arange(1 + half, len(smooth) - 1 - half)
    maxima = interior[
        (smooth[interior] > smooth[interior - 1]) & (smooth[interior] >= smooth[interior + 1])
    ]
    relative = energies_ev[maxima] - fermi_energy_ev
    below = relative[relative <= 0]
    above = relative[relative > 0]
    return (
        float(below.max()) if below.size else None,
        float(above.min()) if above.size else None,
    )


def fermi_level_dos(
    energies_ev: np.ndarray,
    dos_states_per_ev: np.ndarray,
    fermi_energy_ev: float,
    framework_dos_states_per_ev: np.ndarray | None = None,
    projected_total_states_per_ev: np.ndarray | None = None,
    half_width_ev: float = FERMI_WINDOW_EV,
) -> FermiLevelDos:
    """N(E_F) per cell (both spins) averaged over ±``half_width_ev``; the framework's share of the
    projected DOS there (B and C projections over all projections, Löwdin: both from projwfc.x
    on the same grid); the nearest DOS peaks below and above E_F."""
    n_ef = window_average(energies_ev, dos_states_per_ev, fermi_energy_ev, half_width_ev)
    share = None
    if framework_dos_states_per_ev is not None and projected_total_states_per_ev is not None:
        total = window_average(
            energies_ev, projected_total_states_per_ev, fermi_energy_ev, half_width_ev
        )
        framework = window_average(
            energies_ev, framework_dos_states_per_ev, fermi_energy_ev, half_width_ev
        )
        share = framework / total if total > 0 else None
    below, above = dos_peaks_around(energies_ev, dos_states_per_ev, fermi_energy_ev)
    return FermiLevelDos(n_ef, share, float(fermi_energy_ev), below, above)


def pair_label(x: str, y: str) -> str:
    """``XY`` as the study writes it (``KPb``; ``Sr`` for X = Y)."""
    return x if x == y else f"{x}{y}"


def rank_above_reference(
    rows: Iterable[dict], reference: Sequence[str] = REFERENCE_PAIR
) -> tuple[list[dict], float | None]:
    """The rows (``x``, ``y``, ``n_ef_states_per_ev_b6c6``) with N(E_F) above the reference pair's,
    highest first, and the reference's N(E_F) (``None`` when it is not among the rows: then every
    row is returned, ranked)."""
    rows = list(rows)
    wanted = set(reference)
    ref = [r for r in rows if {r["x"], r["y"]} == wanted and len(wanted) == len({r["x"], r["y"]})]
    ranked = sorted(rows, key=lambda r: r["n_ef_states_per_ev_b6c6"], reverse=True)
    if not ref:
        return ranked, None
    level = ref[0]["n_ef_states_per_ev_b6c6"]
    return [r for r in ranked if r["n_ef_states_per_ev_b6c6"] > level], level


def screening_row(x: str, y: str, lattice_parameter_angstrom: float, result: FermiLevelDos) -> dict:
    """One row of the screening table."""
    return {
        "x": x,
        "y": y,
        "pair": pair_label(x, y),
        "average_valence": average_valence(x, y if y != x else None),
        "lattice_parameter_angstrom": lattice_parameter_angstrom,
        **result.as_dict(),
    }


def split_pair(label: str) -> tuple[str, str | None]:
    """``KPb`` -> (``K``, ``Pb``); ``Sr`` -> (``Sr``, None): the inverse of :func:`pair_label`."""
    import re

    symbols = re.findall(r"[A-Z][a-z]?", label)
    if "".join(symbols) != label or len(symbols) not in (1, 2):
        raise ValueError(f"not a pair label: {label!r}")
    return (symbols[0], symbols[1] if len(symbols) == 2 else None)


def format_ranking(table: dict, ranking: dict) -> str:
    """The screen as text: every pair (highest N(E_F) first), then the pairs above the reference."""
    rows = sorted(table["rows"], key=lambda r: r["n_ef_states_per_ev_b6c6"], reverse=True)
    lines = [f"{'pair':<8} {'n':>5} {'a/Å':>7} {'N(E_F)':>8} {'framework':>9}"]
    for row in rows:
        share = row["framework_share"]
        lines.append(
            f"{row['pair']:<8} {row['average_valence']:>5.2f} "
            f"{row['lattice_parameter_angstrom']:>7.4f} {row['n_ef_states_per_ev_b6c6']:>8.3f} "
            f"{'-' if share is None else f'{share:.2f}':>9}"
        )
    level = ranking["reference_n_ef_states_per_ev_b6c6"]
    reference = ranking["reference_pair"]
    if level is None:
        lines.append(f"reference {reference} not screened: ranking of every pair")
    else:
        lines.append(
            f"{len(ranking['pairs'])} pair(s) above {reference} ({level:.3f}): "
            + (", ".join(ranking["pairs"]) or "none")
        )
    lines.append("N(E_F) in states/eV per B6C6 (both spins); n: average guest valence")
    return "\n".join(lines)
