"""The study's stability categories across pressures, and the pressure-scan rule (no AiiDA import).

One compound at one pressure has a verdict: the SSCHA's category
(:mod:`aiida_clathrate.sscha.verdicts`) or, without an SSCHA, the harmonic one (``stable`` or
``unstable``). A pair scanned over increasing pressures gets one study category:

* ``stable``: stable at the lowest pressure of the scan (0 GPa in the study);
* ``stable_under_pressure``: not stable at the lowest pressure, stable at a higher one. The
  lowest such pressure is the *lowest stabilising pressure* (an upper bound of it where the runs
  at lower pressures failed rather than found the compound unstable);
* otherwise the verdict at the lowest pressure that gave one: ``auxiliary_stable_hessian_imaginary``
  (the SSCHA auxiliary matrix is real but the Hessian is not), ``flat_soft_mode`` or ``unstable``;
* ``failed`` when no pressure gave a verdict.

The scan stops at the first stable pressure: a pair stable at 0 GPa needs no higher pressure for
its category (``stop_at_stable``; without it every pressure runs, for Tc(P)). A pressure that
failed is skipped, and the scan goes on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .sscha.verdicts import AUXILIARY_STABLE_HESSIAN_IMAGINARY, FLAT_SOFT_MODE, STABLE, UNSTABLE

STABLE_UNDER_PRESSURE = "stable_under_pressure"
FAILED = "failed"
#: Every category a pair can get.
CATEGORIES = (
    STABLE,
    STABLE_UNDER_PRESSURE,
    AUXILIARY_STABLE_HESSIAN_IMAGINARY,
    FLAT_SOFT_MODE,
    UNSTABLE,
    FAILED,
)


def study_category(verdicts: Mapping[float, str | None]) -> tuple[str, float | None]:
    """The category of one pair and its lowest stabilising pressure (GPa; ``None`` unless
    stable) from the verdict at each scanned pressure (``None``: that run failed)."""
    pressures = sorted(verdicts)
    decided = [p for p in pressures if verdicts[p] is not None]
    if not decided:
        return FAILED, None
    stable = [p for p in decided if verdicts[p] == STABLE]
    if stable:
        first = stable[0]
        lowest_scanned = pressures[0]
        if first == lowest_scanned:
            return STABLE, first
        return STABLE_UNDER_PRESSURE, first
    return str(verdicts[decided[0]]), None


def next_pressure(
    pressures_gpa: Sequence[float],
    verdicts: Mapping[float, str | None],
    stop_at_stable: bool = True,
) -> float | None:
    """The next pressure to run for a pair: the lowest pressure not yet scanned, or ``None`` when
    every pressure has been scanned or (``stop_at_stable``) the pair is stable at a scanned one.
    Without ``stop_at_stable`` every pressure runs: Tc(P) of a compound stable from 0 GPa."""
    if stop_at_stable and any(v == STABLE for v in verdicts.values()):
        return None
    remaining = sorted(p for p in pressures_gpa if p not in verdicts)
    return remaining[0] if remaining else None


def tc_text_of(run: Mapping, branch: str) -> str:
    """``Tc anharmonic 63.9 ± 6.7 K`` (the central Tc and its uncertainty), else the highest Tc
    over mu*, else empty."""
    central = run.get(f"tc_{branch}_central_kelvin")
    if central is not None:
        spread = run.get(f"tc_{branch}_uncertainty_kelvin") or 0.0
        return f"Tc {branch} {central:.1f} ± {spread:.1f} K"
    tcs = run.get(f"tc_{branch}_kelvin")
    return f"Tc {branch} max {max(tcs):.1f} K" if tcs else ""


def format_study(table: Mapping) -> str:
    """The output ``table`` of a study as text: one block per pair, one line per pressure run."""
    lines = []
    for row in table["rows"]:
        pressure = row["lowest_stabilising_pressure_gpa"]
        lines.append(
            f"{row['formula']:<10} {row['category']}"
            + ("" if pressure is None else f" (lowest stabilising pressure {pressure:g} GPa)")
        )
        for run in row["runs"]:
            tc_text = "; ".join(
                text
                for text in (tc_text_of(run, branch) for branch in ("harmonic", "anharmonic"))
                if text
            )
            lines.append(
                f"  {run['pressure_gpa']:>6g} GPa  <{run['pk']}>  {run['verdict'] or 'failed'}"
                + (f"; {tc_text}" if tc_text else "")
            )
    return "\n".join(lines)
