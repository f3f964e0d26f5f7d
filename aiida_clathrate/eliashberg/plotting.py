"""Matplotlib figures (no AiiDA): alpha^2F with the cumulative lambda(omega), and Delta(T)."""

from __future__ import annotations

import numpy as np

from ..units import from_mev
from .spectrum import cumulative_lambda


def plot_alpha2f_lambda(omega_mev, a2f, unit: str = "cm-1", ax=None, label: str | None = None):
    """The study's Fig. 3 panel: frequency on the vertical axis, alpha^2F(omega) (filled) on the
    bottom axis and the cumulative lambda(omega) on a twin top axis.  Returns (figure, ax, twin)."""
    import matplotlib.pyplot as plt

    omega = np.asarray(omega_mev, dtype=float)
    values = np.asarray(a2f, dtype=float)
    running = cumulative_lambda(omega, values)
    freq = from_mev(omega, unit)
    if ax is None:
        figure, ax = plt.subplots(figsize=(3.0, 4.5))
    else:
        figure = ax.figure
    ax.fill_betweenx(freq, 0.0, values, color="tab:blue", alpha=0.35, lw=0)
    ax.plot(values, freq, color="tab:blue", lw=1.0, label=label or r"$\alpha^2F(\omega)$")
    ax.set_xlabel(r"$\alpha^2F(\omega)$")
    ax.set_ylabel(f"frequency ({unit})")
    ax.set_xlim(left=0.0)
    ax.set_ylim(0.0, freq[-1])
    twin = ax.twiny()
    twin.plot(running, freq, color="tab:red", lw=1.2)
    twin.set_xlabel(r"$\lambda(\omega)$", color="tab:red")
    twin.tick_params(axis="x", colors="tab:red")
    twin.set_xlim(left=0.0)
    figure.tight_layout()
    return figure, ax, twin


def plot_gap_curve(temperatures_kelvin, deltas_mev, labels=None, ax=None):
    """Delta(T) curves; ``deltas_mev`` is one array or a list of arrays (one per mu*)."""
    import matplotlib.pyplot as plt

    temperatures = np.asarray(temperatures_kelvin, dtype=float)
    curves = [np.asarray(deltas_mev, dtype=float)] if np.ndim(deltas_mev[0]) == 0 else deltas_mev
    labels = labels or [None] * len(curves)
    if ax is None:
        figure, ax = plt.subplots(figsize=(4.0, 3.0))
    else:
        figure = ax.figure
    for curve, label in zip(curves, labels, strict=True):
        ax.plot(temperatures, curve, marker="o", ms=3, label=label)
    ax.set_xlabel("T (K)")
    ax.set_ylabel(r"$\Delta$ (meV)")
    ax.set_xlim(left=0.0)
    ax.set_ylim(bottom=0.0)
    if any(label is not None for label in labels):
        ax.legend(frameon=False)
    figure.tight_layout()
    return figure, ax
