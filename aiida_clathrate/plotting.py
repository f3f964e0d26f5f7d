"""Figures of phonons and superconductivity (matplotlib, no AiiDA): arrays in, figures out.

- :func:`plot_dispersion_dos`: phonon bands along a path with high-symmetry labels beside the DOS;
- :func:`plot_epc_spectrum`: the study's Fig. 3 layout, phonon DOS beside alpha^2F(omega) and the
  cumulative lambda(omega) on a shared frequency axis (uses :mod:`aiida_clathrate.eliashberg.plotting`);
- :func:`plot_band_overlay`: the Fig. 2 layout, harmonic and anharmonic bands (or one of them) on
  one path with the electron-phonon linewidths as marker size;
- :func:`plot_screening_heatmap`, :func:`plot_projected_dos`: the study's Fig. 1c and 1b;
- :func:`path_distances`: cumulative path length of q-points, zero-length jumps at ``X|M`` breaks;
- a study across compounds (inputs from :mod:`aiida_clathrate.study_figures`):
  :func:`plot_tc_pressure`, :func:`plot_compound_summary` (Fig. 4),
  :func:`plot_low_frequency_share`, :func:`plot_phonon_pdos_a2f` (Fig. 3 with the projected DOS),
  :func:`plot_soft_mode_convergence`. Missing data leave a panel with a note, never an error.

Frequencies are in cm^-1 throughout. Callers choose the backend; the CLI uses Agg.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .eliashberg.plotting import plot_alpha2f_lambda, plot_gap_curve
from .units import from_mev

__all__ = [
    "BandSet",
    "path_distances",
    "plot_band_overlay",
    "plot_compound_summary",
    "plot_dispersion_dos",
    "plot_epc_spectrum",
    "plot_gap_curve",
    "plot_low_frequency_share",
    "plot_phonon_pdos_a2f",
    "plot_projected_dos",
    "plot_screening_heatmap",
    "plot_soft_mode_convergence",
    "plot_tc_pressure",
]

GAMMA_LABELS = {"G", "GAMMA", "Γ"}


@dataclass
class BandSet:
    """Phonon bands along a path.

    :param distances: (nq,) cumulative path length (any unit, e.g. from :func:`path_distances`).
    :param frequencies_cm1: (nq, nbands) frequencies in cm^-1 (negative = imaginary).
    :param ticks: (distance, label) of the high-symmetry points.
    :param linewidths: optional (nq, nbands) electron-phonon linewidths (any one unit), drawn as
        marker size.
    """

    distances: np.ndarray
    frequencies_cm1: np.ndarray
    ticks: Sequence[tuple[float, str]] = ()
    linewidths: np.ndarray | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        self.distances = np.asarray(self.distances, dtype=float)
        self.frequencies_cm1 = np.asarray(self.frequencies_cm1, dtype=float)
        if self.frequencies_cm1.ndim != 2 or len(self.frequencies_cm1) != len(self.distances):
            raise ValueError(
                f"frequencies_cm1 must have shape (nq, nbands) with nq = {len(self.distances)}, "
                f"got {self.frequencies_cm1.shape}"
            )
        if self.linewidths is not None:
            self.linewidths = np.asarray(self.linewidths, dtype=float)
            if self.linewidths.shape != self.frequencies_cm1.shape:
                raise ValueError(
                    f"linewidths shape {self.linewidths.shape} differs from the bands' "
                    f"{self.frequencies_cm1.shape}"
                )
            if np.any(self.linewidths < 0) or not np.all(np.isfinite(self.linewidths)):
                raise ValueError("linewidths must be finite and non-negative")


def path_distances(
    qpoints_cartesian, labels: Sequence[tuple[int, str]] = ()
) -> tuple[np.ndarray, list[tuple[float, str]]]:
    """Cumulative path length of Cartesian q-points and the tick positions of ``labels``.

    Two labelled points at neighbouring indices mark a jump in the path (``X|M``): that step gets
    zero length and one tick ``X|M``. ``GAMMA``/``G`` are written Γ.
    """
    points = np.asarray(qpoints_cartesian, dtype=float)
    if points.ndim != 2 or points.shape[1] != 3 or len(points) < 2:
        raise ValueError(f"qpoints_cartesian must have shape (nq >= 2, 3), got {points.shape}")
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    names = {int(index): ("Γ" if name in GAMMA_LABELS else name) for index, name in labels}
    for index in names:
        if not 0 <= index < len(points):
            raise ValueError(f"label index {index} outside 0..{len(points) - 1}")
        if index + 1 in names:
            steps[index] = 0.0
    distances = np.concatenate([[0.0], np.cumsum(steps)])
    ticks: list[tuple[float, str]] = []
    for index in sorted(names):
        position = float(distances[index])
        if ticks and abs(ticks[-1][0] - position) < 1e-12:
            ticks[-1] = (position, f"{ticks[-1][1]}|{names[index]}")
        else:
            ticks.append((position, names[index]))
    return distances, ticks


def _draw_ticks(ax, ticks: Sequence[tuple[float, str]], distances: np.ndarray) -> None:
    ax.set_xlim(distances[0], distances[-1])
    if ticks:
        ax.set_xticks([t[0] for t in ticks], [t[1] for t in ticks])
        for position, _ in ticks:
            ax.axvline(position, color="0.6", lw=0.6)
    ax.axhline(0.0, color="0.3", lw=0.6, ls=":")


def plot_dispersion_dos(
    bands: BandSet,
    dos_frequencies_cm1=None,
    dos=None,
    title: str | None = None,
):
    """Phonon dispersion (left) and, when given, the phonon DOS on the same frequency axis (right).

    Returns the figure.
    """
    import matplotlib.pyplot as plt

    with_dos = dos_frequencies_cm1 is not None and dos is not None
    if with_dos:
        figure, (ax, ax_dos) = plt.subplots(
            1, 2, figsize=(6.5, 4.0), sharey=True, gridspec_kw={"width_ratios": [3, 1]}
        )
    else:
        figure, ax = plt.subplots(figsize=(5.0, 4.0))
    ax.plot(bands.distances, bands.frequencies_cm1, color="tab:blue", lw=1.0)
    _draw_ticks(ax, bands.ticks, bands.distances)
    ax.set_ylabel(r"frequency (cm$^{-1}$)")
    low = min(0.0, float(bands.frequencies_cm1.min()))
    high = float(bands.frequencies_cm1.max())
    if with_dos:
        x = np.asarray(dos_frequencies_cm1, dtype=float)
        y = np.asarray(dos, dtype=float)
        if x.shape != y.shape:
            raise ValueError(f"DOS arrays differ in shape: {x.shape} and {y.shape}")
        ax_dos.fill_betweenx(x, 0.0, y, color="tab:blue", alpha=0.3, lw=0)
        ax_dos.plot(y, x, color="tab:blue", lw=1.0)
        ax_dos.set_xlabel("phonon DOS")
        ax_dos.set_xlim(left=0.0)
        ax_dos.set_xticks([])
        high = max(high, float(x.max()))
    ax.set_ylim(low * 1.05, high * 1.05)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_epc_spectrum(
    omega_mev,
    alpha2f,
    dos_frequencies_cm1=None,
    dos=None,
    title: str | None = None,
):
    """The study's Fig. 3 layout: phonon DOS (left, when given) beside alpha^2F(omega) with the
    cumulative lambda(omega) on a twin axis (right), frequency (cm^-1) vertical and shared.

    Returns the figure.
    """
    import matplotlib.pyplot as plt

    omega = np.asarray(omega_mev, dtype=float)
    with_dos = dos_frequencies_cm1 is not None and dos is not None
    if with_dos:
        figure, (ax_dos, ax) = plt.subplots(1, 2, figsize=(5.5, 4.5), sharey=True)
        x = np.asarray(dos_frequencies_cm1, dtype=float)
        y = np.asarray(dos, dtype=float)
        if x.shape != y.shape:
            raise ValueError(f"DOS arrays differ in shape: {x.shape} and {y.shape}")
        ax_dos.fill_betweenx(x, 0.0, y, color="0.5", alpha=0.3, lw=0)
        ax_dos.plot(y, x, color="0.2", lw=1.0)
        ax_dos.set_xlabel("phonon DOS")
        ax_dos.set_ylabel(r"frequency (cm$^{-1}$)")
        ax_dos.set_xlim(left=0.0)
        top = max(float(x.max()), float(from_mev(omega[-1], "cm-1")))
    else:
        figure, ax = plt.subplots(figsize=(3.0, 4.5))
        top = float(from_mev(omega[-1], "cm-1"))
    plot_alpha2f_lambda(omega, alpha2f, unit="cm-1", ax=ax)
    if with_dos:
        ax.set_ylabel("")
        ax.tick_params(axis="y", labelleft=False)
    ax.set_ylim(0.0, top)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_band_overlay(
    harmonic: BandSet | None,
    anharmonic: BandSet | None = None,
    title: str | None = None,
    max_marker_size: float = 60.0,
    linewidth_unit: str | None = None,
):
    """The study's Fig. 2 layout: harmonic (dashed grey) and anharmonic (solid red) bands on one
    path; each set's electron-phonon linewidths, when given, as open circles whose area grows with
    the linewidth (one scale for both sets, the largest linewidth gets ``max_marker_size``).

    Either set may be ``None`` (one branch drawn alone in its own style). The two sets may sample
    the path differently; the second one's distances are rescaled to the first one's path length
    (the ticks are those of the first set present). With ``linewidth_unit`` the legend shows the
    size of the largest circle (e.g. ``γ = 31 GHz``). Returns the figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    if max_marker_size <= 0:
        raise ValueError(f"max_marker_size must be positive, got {max_marker_size}")
    present = [b for b in (harmonic, anharmonic) if b is not None]
    if not present:
        raise ValueError("no band set to draw: give harmonic, anharmonic or both")
    reference = present[0]
    length = float(reference.distances[-1] - reference.distances[0])
    if length <= 0:
        raise ValueError("the reference band path has zero length")

    def rescaled(bands: BandSet) -> np.ndarray:
        span = float(bands.distances[-1] - bands.distances[0])
        if span <= 0:
            raise ValueError("a band path has zero length")
        return reference.distances[0] + (bands.distances - bands.distances[0]) * (length / span)

    widths = [b.linewidths for b in present if b.linewidths is not None]
    largest = max((float(w.max()) for w in widths), default=0.0)
    figure, ax = plt.subplots(figsize=(5.5, 4.0))
    styles = (
        (harmonic, dict(color="0.45", ls="--", lw=1.0), "tab:gray", "harmonic"),
        (anharmonic, dict(color="tab:red", ls="-", lw=1.1), "tab:red", "anharmonic"),
    )
    for bands, line_style, marker_color, default_label in styles:
        if bands is None:
            continue
        x = rescaled(bands)
        lines = ax.plot(x, bands.frequencies_cm1, **line_style)
        lines[0].set_label(bands.label or default_label)
        if bands.linewidths is not None and largest > 0:
            sizes = max_marker_size * bands.linewidths / largest
            xs = np.repeat(x[:, None], bands.frequencies_cm1.shape[1], axis=1)
            ax.scatter(
                xs.ravel(),
                bands.frequencies_cm1.ravel(),
                s=sizes.ravel(),
                facecolors="none",
                edgecolors=marker_color,
                linewidths=0.7,
                alpha=0.8,
            )
    _draw_ticks(ax, reference.ticks, reference.distances)
    frequencies = np.concatenate([b.frequencies_cm1.ravel() for b in present])
    ax.set_ylim(min(0.0, float(frequencies.min())) * 1.05, float(frequencies.max()) * 1.05)
    ax.set_ylabel(r"frequency (cm$^{-1}$)")
    handles, _ = ax.get_legend_handles_labels()
    if linewidth_unit and largest > 0:
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                markersize=float(np.sqrt(max_marker_size)),
                markerfacecolor="none",
                markeredgecolor="0.2",
                label=f"γ = {largest:.3g} {linewidth_unit}",
            )
        )
    ax.legend(handles=handles, frameon=False, loc="lower right")
    if title:
        ax.set_title(title)
    figure.tight_layout()
    return figure


def plot_screening_heatmap(
    rows: Sequence[dict],
    metals: Sequence[str],
    reference: Sequence[str] | None = ("K", "Pb"),
    stable_pairs: Sequence[tuple[str, str]] = (),
    stable_under_pressure_pairs: Sequence[tuple[str, str]] = (),
):
    """The study's Fig. 1c layout: N(E_F) (states/eV/B6C6) of every pair as a lower triangle
    over the metals (X = Y on the diagonal), the colour scale centred on the reference pair's
    N(E_F) (a star), crosses on pairs found stable at the screen's pressure, hexagons on pairs
    stable only under pressure. Pairs not screened stay blank."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    index = {m: i for i, m in enumerate(metals)}
    grid = np.full((len(metals), len(metals)), np.nan)
    values = {}
    for row in rows:
        i, j = sorted((index[row["x"]], index[row["y"]]), reverse=True)
        grid[i, j] = row["n_ef_states_per_ev_b6c6"]
        values[frozenset((row["x"], row["y"]))] = (i, j)
    finite = grid[np.isfinite(grid)]
    centre = None
    if reference is not None and frozenset(reference) in values:
        centre = grid[values[frozenset(reference)]]
    figure, ax = plt.subplots(figsize=(1.0 + 0.55 * len(metals), 0.8 + 0.5 * len(metals)))
    if centre is not None and finite.min() < centre < finite.max():
        norm = TwoSlopeNorm(vcenter=centre, vmin=finite.min(), vmax=finite.max())
    else:
        norm = None
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="RdBu_r", norm=norm, origin="upper")
    figure.colorbar(image, ax=ax, label="N(E_F) (states/eV/B6C6)")
    if centre is not None:
        i, j = values[frozenset(reference)]
        ax.plot(j, i, marker="*", color="gold", markersize=16, markeredgecolor="k")
    for pairs, marker in ((stable_pairs, "x"), (stable_under_pressure_pairs, "h")):
        for x, y in pairs:
            if frozenset((x, y)) in values:
                i, j = values[frozenset((x, y))]
                ax.plot(j, i, marker=marker, color="k", markersize=9, fillstyle="none")
    ax.set_xticks(range(len(metals)), metals)
    ax.set_yticks(range(len(metals)), metals)
    ax.set_xlabel("X")
    ax.set_ylabel("Y")
    ax.set_title(
        "N(E_F) per B6C6" + ("" if centre is None else f", centred on {''.join(reference)}")
    )
    figure.tight_layout()
    return figure


def plot_projected_dos(energies_ev: np.ndarray, curves: dict[str, np.ndarray], label: str):
    """Projected DOS (states/eV) against E − E_F (eV), one curve per element, the Fermi level
    dashed: the study's Fig. 1b."""
    import matplotlib.pyplot as plt

    window = (-4.0, 4.0)
    figure, ax = plt.subplots(figsize=(5, 3.5))
    inside = (energies_ev >= window[0]) & (energies_ev <= window[1])
    top = 0.0
    for name, curve in curves.items():
        ax.plot(energies_ev, curve, label=name)
        if inside.any():
            top = max(top, float(np.max(np.asarray(curve)[inside])))
    ax.axvline(0.0, color="k", linestyle="--", linewidth=0.8)
    ax.set_xlim(*window)
    ax.set_ylim(0.0, 1.1 * top if top > 0 else None)
    ax.set_xlabel("E − E_F (eV)")
    ax.set_ylabel("DOS (states/eV/cell)")
    ax.set_title(label)
    ax.legend()
    figure.tight_layout()
    return figure


def plot_thermodynamics(data: dict):
    """ΔH(P) (meV/atom) against the elements and T*(P) (K) with the synthesis-temperature line
    (the study's 4000 K): the output of ``formation_thermodynamics``."""
    import matplotlib.pyplot as plt

    pressures = [r["pressure_gpa"] for r in data["rows"]]
    delta_h = [r["formation_enthalpy_mev_atom"] for r in data["rows"]]
    t_star = [
        np.nan if r["synthesis_temperature_k"] is None else r["synthesis_temperature_k"]
        for r in data["rows"]
    ]
    figure, (ax_h, ax_t) = plt.subplots(1, 2, figsize=(9, 3.6))
    ax_h.plot(pressures, delta_h, "o-")
    ax_h.axhline(0.0, color="k", linewidth=0.8)
    ax_h.set_xlabel("P (GPa)")
    ax_h.set_ylabel("ΔH (meV/atom)")
    ax_h.set_title(f"{data['formula']}: ΔH against the elements")
    t_max = data["temperature_max_k"]
    ax_t.plot(pressures, t_star, "o-", label=f"T* ({data['entropy_model']})")
    ax_t.axhline(t_max, color="tab:red", linestyle="--", label=f"{t_max:.0f} K")
    synthesis = data["synthesis_pressure_gpa"]
    if synthesis is not None:
        ax_t.axvline(synthesis, color="tab:red", linestyle=":", linewidth=0.8)
        ax_t.annotate(
            f"{synthesis:.1f} GPa",
            (synthesis, t_max),
            textcoords="offset points",
            xytext=(4, 6),
            color="tab:red",
        )
    ax_t.set_ylim(bottom=0.0)
    ax_t.set_xlabel("P (GPa)")
    ax_t.set_ylabel("T* (K)")
    ax_t.set_title("synthesis window: T ≥ T*(P)")
    ax_t.legend()
    figure.tight_layout()
    return figure


# --- the study's cross-compound figures (inputs: plain lists and dicts, see study_figures) ---

BRANCH_STYLES = {
    "harmonic": dict(color="0.35", ls="--", marker="o", mfc="white"),
    "anharmonic": dict(color="tab:red", ls="-", marker="o"),
}


def _note(ax, text: str) -> None:
    """An empty panel that says why it is empty."""
    ax.text(
        0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4", wrap=True
    )
    ax.set_xticks([])
    ax.set_yticks([])


def _values(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def plot_tc_pressure(series: Sequence[dict], references: Sequence[dict] = ()):
    """Tc(P) per compound: harmonic (dashed, open) and anharmonic (solid, filled) with error bars
    where an uncertainty is given; the study's headline Tc as stars (``references``).

    ``series``: ``{"label", "pressures_gpa", "tc_<branch>_kelvin", "tc_<branch>_error_kelvin"}``
    (lists, ``None`` where a run gave no Tc). ``references``: ``{"label", "pressure_gpa",
    "tc_harmonic_kelvin", "tc_anharmonic_kelvin"}``. Returns the figure."""
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(6.0, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    drawn = 0
    for index, entry in enumerate(series):
        colour = colours[index % len(colours)]
        pressures = _values(entry["pressures_gpa"])
        for branch, style in BRANCH_STYLES.items():
            tc = _values(entry.get(f"tc_{branch}_kelvin") or [None] * len(pressures))
            if not np.isfinite(tc).any():
                continue
            error = _values(entry.get(f"tc_{branch}_error_kelvin") or [None] * len(pressures))
            error = np.where(np.isfinite(error), error, 0.0)
            keep = np.isfinite(tc)
            ax.errorbar(
                pressures[keep],
                tc[keep],
                yerr=error[keep] if error[keep].any() else None,
                capsize=3,
                label=f"{entry['label']} {branch}",
                **{**style, "color": colour},
            )
            drawn += 1
    for entry in references:
        for branch, style in BRANCH_STYLES.items():
            value = entry.get(f"tc_{branch}_kelvin")
            if value is not None:
                ax.plot(
                    entry["pressure_gpa"],
                    value,
                    marker="*",
                    ms=11,
                    ls="",
                    color=style["color"],
                    mec="k",
                    label=f"{entry['label']} {branch} (study)",
                )
                drawn += 1
    if not drawn:
        _note(ax, "no Tc: no compound reached the Eliashberg step")
    else:
        ax.set_xlabel("P (GPa)")
        ax.set_ylabel("Tc (K)")
        ax.set_ylim(0.0, ax.get_ylim()[1] * 1.1)  # room for a star at the top
        ax.legend(fontsize=7, frameon=False, loc="best")
    ax.set_title("Tc(P), μ* in the middle of the range")
    figure.tight_layout()
    return figure


#: The panels of :func:`plot_compound_summary`: (key in a branch dict, axis label).
SUMMARY_PANELS = (
    ("dos_ef_states_per_ev_spin", "N(E_F)\n(states/eV/spin)"),
    ("lambda", "λ"),
    ("omega_log_mev", "ω_log (meV)"),
    ("tc_kelvin", "Tc (K)"),
)


def plot_compound_summary(points: Sequence[dict]):
    """The study's Fig. 4 across compounds: average valence n, N(E_F), lambda, omega_log and Tc,
    one panel each, compounds on a shared horizontal axis (harmonic open, anharmonic filled).

    ``points``: ``{"label", "average_valence", "stable", "harmonic": {...}, "anharmonic": {...}}``
    with the branch dicts keyed as :data:`SUMMARY_PANELS` (plus ``tc_error_kelvin``); a missing
    branch or value is skipped; compounds not ``stable`` get a grey label. Returns the figure."""
    import matplotlib.pyplot as plt

    rows = 1 + len(SUMMARY_PANELS)
    figure, axes = plt.subplots(
        rows, 1, figsize=(max(4.5, 1.0 + 0.9 * len(points)), 8.5), sharex=True
    )
    if not points:
        for ax in axes:
            _note(ax, "")
        axes[0].set_title("Fig. 4 summary")
        _note(axes[rows // 2], "no compound to summarise")
        figure.tight_layout()
        return figure
    x = np.arange(len(points))
    axes[0].plot(x, [p["average_valence"] for p in points], "s", color="tab:blue")
    axes[0].set_ylabel("n")
    for ax, (key, label) in zip(axes[1:], SUMMARY_PANELS, strict=True):
        found = False
        for branch, style in BRANCH_STYLES.items():
            values = _values([(p.get(branch) or {}).get(key) for p in points])
            if not np.isfinite(values).any():
                continue
            found = True
            errors = None
            if key == "tc_kelvin":
                errors = _values([(p.get(branch) or {}).get("tc_error_kelvin") for p in points])
                errors = np.where(np.isfinite(errors), errors, 0.0)
                errors = errors if errors.any() else None
            ax.errorbar(
                x,
                values,
                yerr=errors,
                ls="",
                capsize=3,
                label=branch,
                **{k: v for k, v in style.items() if k != "ls"},
            )
        if not found:
            ax.text(
                0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="0.4"
            )
        ax.set_ylabel(label)
    axes[1].legend(fontsize=7, frameon=False)
    axes[-1].set_xticks(x, [p["label"] for p in points], rotation=30, ha="right", fontsize=8)
    for tick, point in zip(axes[-1].get_xticklabels(), points, strict=True):
        if not point.get("stable", True):
            tick.set_color("0.5")
    axes[-1].set_xlim(-0.5, len(points) - 0.5)
    axes[0].set_title("Fig. 4 summary (grey: not stable at any pressure run)", fontsize=9)
    figure.tight_layout()
    return figure


def plot_low_frequency_share(
    rows: Sequence[dict], references: Sequence[dict] = (), cutoff_cm1: float = 200.0
):
    """The share of lambda from modes below ``cutoff_cm1`` per compound, in percent: harmonic
    and anharmonic bars, the study's values (``references``: ``{"label", "share"}``) as hatched
    bars with their number. ``rows``: ``{"label", "harmonic", "anharmonic"}`` (fractions or
    ``None``). Returns the figure."""
    import matplotlib.pyplot as plt

    labels = [r["label"] for r in rows] + [f"{r['label']}\n(study)" for r in references]
    figure, ax = plt.subplots(figsize=(max(4.5, 1.2 + 1.0 * len(labels)), 3.8))
    width = 0.38
    ours = False
    for offset, (branch, colour) in zip(
        (-0.5, 0.5), (("harmonic", "0.6"), ("anharmonic", "tab:red")), strict=True
    ):
        values = _values([r.get(branch) for r in rows]) * 100.0
        keep = np.isfinite(values)
        if keep.any():
            ours = True
            positions = np.arange(len(rows))[keep] + offset * width
            bars = ax.bar(positions, values[keep], width, color=colour, label=branch)
            ax.bar_label(bars, fmt="%.0f %%", fontsize=7)
    for index, reference in enumerate(references):
        bars = ax.bar(
            len(rows) + index,
            100.0 * reference["share"],
            width,
            color="white",
            edgecolor="k",
            hatch="//",
            label="study" if index == 0 else None,
        )
        ax.bar_label(bars, fmt="%.0f %%", fontsize=7)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel(f"λ share below {cutoff_cm1:g} cm$^{{-1}}$ (%)")
    ax.set_ylim(0.0, 100.0)
    if not ours:
        ax.text(
            0.02,
            0.9,
            "no α²F computed for any compound of this study",
            transform=ax.transAxes,
            color="0.4",
            fontsize=8,
        )
    ax.legend(fontsize=7, frameon=False, loc="upper right")
    ax.set_title(f"low-frequency share of λ (ω < {cutoff_cm1:g} cm$^{{-1}}$)")
    figure.tight_layout()
    return figure


def plot_phonon_pdos_a2f(branches: Sequence[dict], title: str | None = None):
    """The study's Fig. 3 per compound: one row per branch, the phonon DOS projected on each
    element (left) beside alpha^2F(omega)/omega with the cumulative lambda(omega) on a twin axis
    (right), frequency (cm^-1) vertical and shared within a row.

    ``branches``: ``{"label", "pdos_frequency_cm1", "pdos": {element: values}, "omega_mev",
    "alpha2f"}``; a missing PDOS or alpha^2F leaves a panel with a note. Returns the figure."""
    import matplotlib.pyplot as plt

    from .eliashberg.spectrum import cumulative_lambda

    count = max(1, len(branches))
    figure, axes = plt.subplots(count, 2, figsize=(6.5, 4.0 * count), squeeze=False, sharey="row")
    if not branches:
        _note(axes[0, 0], "no phonon DOS")
        _note(axes[0, 1], "no α²F")
    for (ax_dos, ax), branch in zip(axes, branches, strict=False):
        top = 0.0
        if branch.get("pdos"):
            frequency = np.asarray(branch["pdos_frequency_cm1"], dtype=float)
            for element, values in branch["pdos"].items():
                ax_dos.plot(values, frequency, lw=1.0, label=element)
            ax_dos.set_xlim(left=0.0)
            ax_dos.set_xlabel("phonon PDOS")
            ax_dos.legend(fontsize=7, frameon=False)
            top = float(frequency.max())
        else:
            _note(ax_dos, "no projected phonon DOS")
        ax_dos.set_ylabel(f"{branch['label']}\nfrequency (cm$^{{-1}}$)")
        omega = np.asarray(branch.get("omega_mev") or [], dtype=float)
        a2f = np.asarray(branch.get("alpha2f") if branch.get("alpha2f") is not None else [])
        try:
            running = cumulative_lambda(omega, a2f)
        except ValueError as exc:
            running = None
            reason = "no α²F" if a2f.size == 0 else f"α²F not drawn: {exc}"
        if running is not None:
            keep = omega > 0
            frequency = from_mev(omega, "cm-1")
            ax.fill_betweenx(
                frequency[keep], 0.0, a2f[keep] / omega[keep], color="tab:blue", alpha=0.35, lw=0
            )
            ax.plot(a2f[keep] / omega[keep], frequency[keep], color="tab:blue", lw=1.0)
            ax.set_xlabel(r"$\alpha^2F(\omega)/\omega$ (meV$^{-1}$)")
            ax.set_xlim(left=0.0)
            twin = ax.twiny()
            twin.plot(running, frequency, color="tab:red", lw=1.2)
            twin.set_xlabel(r"$\lambda(\omega)$", color="tab:red")
            twin.tick_params(axis="x", colors="tab:red")
            twin.set_xlim(left=0.0)
            top = max(top, float(frequency.max()))
        else:
            _note(ax, reason)
        if top > 0:
            ax_dos.set_ylim(0.0, top)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_soft_mode_convergence(series: Sequence[dict]):
    """Lowest SSCHA auxiliary frequency against the ensemble size (cumulative configurations), one
    line per compound run: the study's "flat soft mode" check (a mode that drops to zero and
    stays there as the ensemble grows). ``series``: ``{"label", "n_configurations",
    "lowest_frequency_cm1"}`` per population. Returns the figure."""
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(5.5, 3.8))
    drawn = False
    for entry in series:
        sizes = np.cumsum(np.asarray(entry["n_configurations"], dtype=float))
        lowest = _values(entry["lowest_frequency_cm1"])
        if len(sizes) and np.isfinite(lowest).any():
            ax.plot(sizes, lowest, "o-", label=entry["label"])
            drawn = True
    if drawn:
        ax.axhline(0.0, color="k", lw=0.8, ls=":")
        ax.set_xlabel("configurations (cumulative)")
        ax.set_ylabel("lowest frequency (cm$^{-1}$)")
        ax.legend(fontsize=7, frameon=False)
    else:
        _note(ax, "no SSCHA run in this study")
    ax.set_title("lowest SSCHA frequency against ensemble size")
    figure.tight_layout()
    return figure
