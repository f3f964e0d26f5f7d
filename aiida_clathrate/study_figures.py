"""A study's cross-compound figures from the plain data of :func:`aiida_clathrate.study_data.gather_study`
(no AiiDA import; drawing in :mod:`aiida_clathrate.plotting`).

* ``study_tc_pressure``: Tc(P) per compound, harmonic and anharmonic, with the study's headline Tc;
* ``study_summary``: the Fig. 4 summary (n, N(E_F), lambda, omega_log, Tc) at each pair's
  representative run (:func:`representative_run`);
* ``study_low_frequency_lambda``: the share of lambda below 200 cm^-1, with the study's values;
* ``study_spectra_<formula>``: Fig. 3 (projected phonon DOS, alpha^2F/omega and lambda(omega)) of
  each pair's representative run that has a spectrum;
* ``study_soft_mode``: the lowest SSCHA frequency against the ensemble size, every SSCHA run.

Tc is shown as central ± uncertainty where the summary has them, else the Tc at the middle mu*.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .reference_study import (
    HEADLINE_TC,
    LOW_FREQUENCY_CUTOFF_CM1,
    LOW_FREQUENCY_LAMBDA_SHARE,
    pair_key,
)
from .units import to_mev

BRANCHES = ("harmonic", "anharmonic")


def low_frequency_share(
    omega_mev, alpha2f, cutoff_cm1: float = LOW_FREQUENCY_CUTOFF_CM1
) -> float | None:
    """lambda(omega < cutoff) / lambda from alpha^2F(omega) (``None`` when lambda is not positive)."""
    from .eliashberg.spectrum import cumulative_lambda

    omega = np.asarray(omega_mev, dtype=float)
    try:
        running = cumulative_lambda(omega, np.asarray(alpha2f, dtype=float))
    except ValueError:  # not a spectrum with a coupling (validate_spectrum says why)
        return None
    if not running[-1] > 0:
        return None
    return float(np.interp(float(to_mev(cutoff_cm1, "cm-1")), omega, running) / running[-1])


def tc_display(branch: Mapping | None) -> tuple[float | None, float | None]:
    """(Tc, uncertainty) of a branch: central ± uncertainty when given, else the Tc at the middle
    mu* and ``None``; ``(None, None)`` without a Tc."""
    if not branch:
        return None, None
    central = branch.get("tc_central_kelvin")
    if central is not None:
        return float(central), branch.get("tc_uncertainty_kelvin")
    tcs = branch.get("tc_kelvin")
    if not tcs:
        return None, None
    return float(tcs[len(tcs) // 2]), None


def _has_results(compound: Mapping | None) -> bool:
    return bool(compound) and any(
        (compound.get(b) or {}).get("lambda") is not None for b in BRANCHES
    )


def representative_run(row: Mapping) -> tuple[dict | None, bool]:
    """The run that stands for a pair in the cross-compound figures, and whether it is stable:
    the run at the lowest stabilising pressure; else the lowest-pressure run with lambda; else
    ``None``."""
    runs = [run for run in row["runs"] if run.get("compound")]
    pressure = row.get("lowest_stabilising_pressure_gpa")
    if pressure is not None:
        for run in runs:
            if run["pressure_gpa"] == pressure:
                return run, True
    for run in runs:
        if _has_results(run["compound"]):
            return run, False
    return None, False


def _label(row: Mapping, pressure_gpa: float | None = None) -> str:
    return row["formula"] if pressure_gpa is None else f"{row['formula']} {pressure_gpa:g} GPa"


def tc_pressure_series(data: Mapping) -> tuple[list[dict], list[dict]]:
    """The inputs of :func:`~aiida_clathrate.plotting.plot_tc_pressure`: one series per pair, and
    the study's headline Tc of the pairs in the study."""
    series, references = [], []
    for row in data["rows"]:
        entry: dict = {"label": row["formula"], "pressures_gpa": []}
        for branch in BRANCHES:
            entry[f"tc_{branch}_kelvin"], entry[f"tc_{branch}_error_kelvin"] = [], []
        for run in row["runs"]:
            entry["pressures_gpa"].append(run["pressure_gpa"])
            for branch in BRANCHES:
                tc, error = tc_display((run.get("compound") or {}).get(branch))
                entry[f"tc_{branch}_kelvin"].append(tc)
                entry[f"tc_{branch}_error_kelvin"].append(error)
        series.append(entry)
        for reference in HEADLINE_TC:
            if pair_key(reference.metals) == pair_key(row["pair"]):
                references.append(
                    {
                        "label": reference.formula,
                        "pressure_gpa": reference.pressure_gpa,
                        "tc_harmonic_kelvin": reference.tc_harmonic_kelvin,
                        "tc_anharmonic_kelvin": reference.tc_anharmonic_kelvin,
                    }
                )
    return series, references


def summary_points(data: Mapping) -> list[dict]:
    """The inputs of :func:`~aiida_clathrate.plotting.plot_compound_summary`, ordered by average
    valence then formula; pairs without a representative run are left out."""
    points = []
    for row in data["rows"]:
        run, stable = representative_run(row)
        if run is None:
            continue
        point = {
            "label": _label(row, run["pressure_gpa"]),
            "average_valence": row["average_valence"],
            "stable": stable,
        }
        for branch in BRANCHES:
            values = dict(run["compound"].get(branch) or {})
            values["tc_kelvin"], values["tc_error_kelvin"] = tc_display(values)
            point[branch] = values
        points.append(point)
    return sorted(points, key=lambda p: (p["average_valence"], p["label"]))


def share_rows(data: Mapping) -> tuple[list[dict], list[dict]]:
    """The inputs of :func:`~aiida_clathrate.plotting.plot_low_frequency_share`: our shares at
    each pair's representative run and the study's values."""
    rows = []
    for row in data["rows"]:
        run, _ = representative_run(row)
        if run is None:
            continue
        shares = {b: (run["compound"].get(b) or {}).get("low_frequency_share") for b in BRANCHES}
        if any(v is not None for v in shares.values()):
            rows.append({"label": _label(row, run["pressure_gpa"]), **shares})
    references = [
        {"label": name, "share": share} for name, (_, share) in LOW_FREQUENCY_LAMBDA_SHARE.items()
    ]
    return rows, references


def spectrum_branches(compound: Mapping) -> list[dict]:
    """The inputs of :func:`~aiida_clathrate.plotting.plot_phonon_pdos_a2f` for one run: the
    branches with an alpha^2F or a projected DOS."""
    branches = []
    for branch in BRANCHES:
        values = compound.get(branch) or {}
        if values.get("alpha2f") is None and not values.get("pdos"):
            continue
        note = "" if values.get("lambda") is not None else " (not a result)"
        branches.append({"label": f"{branch}{note}", **values})
    return branches


def soft_mode_series(data: Mapping) -> list[dict]:
    """The inputs of :func:`~aiida_clathrate.plotting.plot_soft_mode_convergence`: every run with
    SSCHA populations."""
    series = []
    for row in data["rows"]:
        for run in row["runs"]:
            populations = (run.get("compound") or {}).get("populations")
            if populations:
                series.append({"label": _label(row, run["pressure_gpa"]), **populations})
    return series


def study_figures(data: Mapping) -> dict:
    """Every figure of a study: ``{name: matplotlib Figure}`` (names in the module docstring)."""
    from . import plotting

    series, references = tc_pressure_series(data)
    figures = {"study_tc_pressure": plotting.plot_tc_pressure(series, references)}
    figures["study_summary"] = plotting.plot_compound_summary(summary_points(data))
    rows, shares = share_rows(data)
    figures["study_low_frequency_lambda"] = plotting.plot_low_frequency_share(
        rows, shares, LOW_FREQUENCY_CUTOFF_CM1
    )
    for row in data["rows"]:
        run, _ = representative_run(row)
        branches = spectrum_branches(run["compound"]) if run is not None else []
        if branches:
            figures[f"study_spectra_{row['formula']}"] = plotting.plot_phonon_pdos_a2f(
                branches, title=_label(row, run["pressure_gpa"])
            )
    figures["study_soft_mode"] = plotting.plot_soft_mode_convergence(soft_mode_series(data))
    return figures


def figure_captions(names: Sequence[str]) -> dict[str, str]:
    """A one-line caption per figure name of :func:`study_figures`."""
    fixed = {
        "study_tc_pressure": "Tc(P) per compound: harmonic (dashed, open) and anharmonic (solid), "
        "error bars from the Tc uncertainty where computed; stars: the study's headline Tc.",
        "study_summary": "The study's Fig. 4 across compounds at each pair's lowest stable "
        "pressure (grey label: not stable at any pressure run; then its lowest pressure "
        "with results): average valence n, N(E_F), λ, ω_log, Tc.",
        "study_low_frequency_lambda": f"Share of λ from modes below "
        f"{LOW_FREQUENCY_CUTOFF_CM1:g} cm⁻¹; hatched: the study's values.",
        "study_soft_mode": "Lowest SSCHA frequency against the cumulative ensemble size "
        "(a flat soft mode stays near zero as the ensemble grows).",
    }
    captions = {}
    for name in names:
        if name.startswith("study_spectra_"):
            captions[name] = (
                f"{name.removeprefix('study_spectra_')}: phonon DOS projected on the metals, "
                "B and C, α²F(ω)/ω and the cumulative λ(ω) (the study's Fig. 3)."
            )
        else:
            captions[name] = fixed.get(name, name)
    return captions
