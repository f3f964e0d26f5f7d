"""Timing and memory of the isotropic Eliashberg solver on one core.

Run:  .venv/bin/python benchmarks/eliashberg.py

For the clathrate-like spectrum (lambda = 1.75, Tc ~ 90 K) and a low-Tc spectrum (lambda = 0.5,
Tc ~ 5 K, ~220 Matsubara frequencies at Tc and ~1100 at 0.2 Tc) it prints the wall time of
Tc for one mu*, the three-mu* scan, a 30-point Delta(T) curve and Delta_0 (Pade), with the
peak Python/numpy memory (tracemalloc) of each step.

Complexity, N = number of positive Matsubara frequencies:
* kernel lambda(k), k = 0..2N: O(N * N_omega) per temperature;
* linearized equation: the kernel is folded onto n >= 0 (even gap) and symmetrized,
  S = D^-1/2 [lambda(n-m) + lambda(n+m+1) - 2 mu*] D^-1/2 with D = Z omega, so its largest
  eigenvalue comes from a symmetric solver: LAPACK ?syevr for one eigenvalue (O(N^3)) when
  N <= 200, otherwise Lanczos (scipy eigsh) with S v applied as an FFT convolution in
  O(N log N) per product, since lambda(n-m) is Toeplitz and lambda(n+m+1) is its mirror image;
* nonlinear equations: each Anderson-mixed iteration is two FFT convolutions, O(N log N).
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from aiida_clathrate.eliashberg import (  # noqa: E402
    EliashbergSettings,
    MatsubaraSystem,
    PreparedSpectrum,
    clathrate_like_spectrum,
    delta_zero,
    gap_curve,
    low_tc_spectrum,
    solve_tc,
)

REPEATS = 3
MUSTAR = 0.10


def measure(function):
    """(median wall time in s over REPEATS, peak traced memory in MiB, last result)."""
    times = []
    result = None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak / 2**20, result


def main() -> None:
    settings = EliashbergSettings()
    print(f"{'spectrum':<16}{'task':<34}{'time_s':>9}{'peak_MiB':>10}  detail")
    for name, (omega, a2f) in {
        "clathrate-like": clathrate_like_spectrum(),
        "low-Tc": low_tc_spectrum(),
    }.items():
        spectrum = PreparedSpectrum.from_arrays(omega, a2f)

        def one(spectrum=spectrum):
            return solve_tc(None, None, MUSTAR, settings, spectrum)

        def scan(spectrum=spectrum):
            return [solve_tc(None, None, mu, settings, spectrum) for mu in (0.10, 0.13, 0.15)]

        t, mem, tc = measure(one)
        n_low = MatsubaraSystem(
            spectrum, 0.2 * tc.tc_kelvin, tc.mustar_at_cutoff, tc.cutoff_mev, settings.min_matsubara
        ).n
        print(
            f"{name:<16}{f'Tc, one mu* ({MUSTAR})':<34}{t:9.3f}{mem:10.1f}  "
            f"Tc = {tc.tc_kelvin:.2f} K, N(Tc) = {tc.n_matsubara}, "
            f"{tc.eigenvalue_evaluations} eigenvalue evaluations"
        )
        t, mem, tcs = measure(scan)
        print(
            f"{name:<16}{'Tc, three-mu* scan':<34}{t:9.3f}{mem:10.1f}  "
            + ", ".join(f"{r.tc_kelvin:.2f}" for r in tcs)
            + " K"
        )
        t, mem, curve = measure(
            lambda tc=tc, spectrum=spectrum: gap_curve(
                spectrum, MUSTAR, tc.tc_kelvin, settings, edge=False
            )
        )
        print(
            f"{name:<16}{'Delta(T), 30 points':<34}{t:9.3f}{mem:10.1f}  "
            f"Delta(i w_0) at 0.2 Tc = {curve.delta_lowest_mev[0]:.3f} meV, N(0.2 Tc) = {n_low}"
        )
        t, mem, curve = measure(
            lambda tc=tc, spectrum=spectrum: gap_curve(
                spectrum, MUSTAR, tc.tc_kelvin, settings, edge=True
            )
        )
        print(
            f"{name:<16}{'Delta(T), 30 points + Pade edge':<34}{t:9.3f}{mem:10.1f}  "
            f"edge gap at 0.2 Tc = {curve.delta_edge_mev[0]:.3f} meV"
        )
        t, mem, (delta0, t_gap) = measure(
            lambda tc=tc, spectrum=spectrum: delta_zero(spectrum, MUSTAR, tc.tc_kelvin, settings)
        )
        ratio = 2 * delta0 / (0.08617333262 * tc.tc_kelvin)
        print(
            f"{name:<16}{'Delta_0 (0.2 Tc, Pade)':<34}{t:9.3f}{mem:10.1f}  "
            f"Delta_0 = {delta0:.3f} meV, 2 Delta_0 / k_B Tc = {ratio:.3f}"
        )
    try:
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"process peak RSS: {rss:.0f} MiB (numpy {np.__version__}, one thread)")
    except ImportError:  # pragma: no cover - not on POSIX
        pass


if __name__ == "__main__":
    main()
