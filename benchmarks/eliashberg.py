"""Timing and memory of the isotropic Eliashberg solver on one core.

Run:  .venv/bin/python benchmarks/eliashberg.py                # timings
      .venv/bin/python benchmarks/eliashberg.py --validation   # the validation numbers

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
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from aiida_clathrate.eliashberg import (  # noqa: E402
    KB_MEV_PER_KELVIN,
    EliashbergSettings,
    MatsubaraSystem,
    PreparedSpectrum,
    allen_dynes_tc,
    clathrate_like_spectrum,
    delta_zero,
    einstein_spectrum,
    gap_curve,
    gaussian_bands,
    low_tc_spectrum,
    run_eliashberg,
    solve_gap_at_temperature,
    solve_tc,
    spectral_moments,
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
        ratio = 2 * delta0 / (KB_MEV_PER_KELVIN * tc.tc_kelvin)
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


def validation() -> None:
    """Print the numbers behind tests/test_eliashberg_validation.py."""
    omega, a2f = einstein_spectrum(50.0, 0.3)
    spectrum = PreparedSpectrum.from_arrays(omega, a2f)
    tc = solve_tc(None, None, 0.0, spectrum=spectrum)
    delta0, _ = delta_zero(spectrum, 0.0, tc.tc_kelvin)
    print(
        f"weak coupling (Einstein 50 meV, lambda 0.3, mu* 0): Tc = {tc.tc_kelvin:.3f} K, "
        f"Delta_0 = {delta0:.4f} meV, 2 Delta_0/k_B Tc = "
        f"{2 * delta0 / (KB_MEV_PER_KELVIN * tc.tc_kelvin):.4f} (BCS 3.528)"
    )
    for lam in (5.0, 10.0, 20.0):
        omega, a2f = einstein_spectrum(50.0, lam)
        tc = solve_tc(omega, a2f, 0.0).tc_kelvin
        ratio = KB_MEV_PER_KELVIN * tc / (np.sqrt(lam) * 50.0)
        print(
            f"strong coupling lambda {lam:4.0f}: Tc = {tc:.1f} K, "
            f"k_B Tc/(sqrt(lambda) omega_E) = {ratio:.4f} (limit 0.1827)"
        )
    omega, a2f = clathrate_like_spectrum()
    spectrum = PreparedSpectrum.from_arrays(omega, a2f)
    tc = solve_tc(None, None, 0.13, spectrum=spectrum)
    fractions = np.array([0.99, 0.995, 0.998])
    gaps = np.array(
        [
            solve_gap_at_temperature(
                spectrum, f * tc.tc_kelvin, tc.mustar_at_cutoff, tc.cutoff_mev
            ).delta_lowest_mev
            for f in fractions
        ]
    )
    slope, intercept = np.polyfit(fractions * tc.tc_kelvin, gaps**2, 1)
    print(
        f"clathrate-like mu* 0.13: linearized Tc = {tc.tc_kelvin:.3f} K, nonlinear gap closes "
        f"at {-intercept / slope:.3f} K (Delta^2 fit at 0.99-0.998 Tc)"
    )
    for label, (omega, a2f) in {
        "Einstein lambda 1": einstein_spectrum(50.0, 1.0),
        "clathrate-like": clathrate_like_spectrum(),
    }.items():
        reference = 10 * spectral_moments(omega, a2f).omega_max_mev
        values = [
            solve_tc(
                omega,
                a2f,
                0.13,
                EliashbergSettings(
                    omega_cutoff_factor=f, mustar_reference_cutoff_mev=reference, min_matsubara=1
                ),
            ).tc_kelvin
            for f in (10.0, 20.0)
        ]
        print(
            f"cutoff convergence ({label}, mu* 0.13 at 10 omega_max, rescaled): "
            f"Tc(10x) = {values[0]:.3f} K, Tc(20x) = {values[1]:.3f} K, "
            f"change {100 * (values[1] / values[0] - 1):+.2f} %"
        )
    grid = np.linspace(0.2, 40.0, 400)
    print("moderate coupling, Tc_Eliashberg / Tc_Allen-Dynes for mu* = 0.10, 0.13, 0.15")
    print(
        "  (a) mu* given at omega_max, Allen-Mitrovic-rescaled to omega_c;  (b) mu* as given at omega_c"
    )
    for lam in (0.5, 1.0, 1.5):
        for shape, (omega, a2f) in {
            "Einstein": einstein_spectrum(25.0, lam),
            "two-band": (grid, gaussian_bands(grid, [8.0, 25.0], [3.0, 5.0], [lam / 2, lam / 2])),
        }.items():
            m = spectral_moments(omega, a2f)
            rescaled = EliashbergSettings(mustar_reference_cutoff_mev=m.omega_max_mev)
            a, b = [], []
            for mu in (0.10, 0.13, 0.15):
                ad = allen_dynes_tc(m.lambda_, m.omega_log_mev, m.omega_2_mev, mu)
                a.append(solve_tc(omega, a2f, mu, rescaled).tc_kelvin / ad)
                b.append(solve_tc(omega, a2f, mu).tc_kelvin / ad)
            print(
                f"  lambda {lam} {shape:<9} (a) "
                + " ".join(f"{x:.3f}" for x in a)
                + "   (b) "
                + " ".join(f"{x:.3f}" for x in b)
            )
    omega, a2f = clathrate_like_spectrum()
    summary = run_eliashberg(omega, a2f, (0.10, 0.13, 0.15), with_curve=False)
    print(
        f"clathrate-like: lambda = {summary.lambda_:.3f}, omega_log = {summary.omega_log_mev:.2f} meV, "
        f"omega_2 = {summary.omega_2_mev:.2f} meV, omega_c = {summary.omega_cutoff_mev:.0f} meV"
    )
    for r in summary.results:
        print(
            f"  mu* {r.mustar:.2f}: Tc Eliashberg {r.tc_eliashberg_kelvin:.2f} K, Allen-Dynes "
            f"{r.tc_allen_dynes_kelvin:.2f} K, McMillan {r.tc_mcmillan_kelvin:.2f} K, Delta_0 "
            f"{r.delta_0_mev:.3f} meV, 2 Delta_0/k_B Tc {r.gap_ratio:.3f}"
        )
    m = spectral_moments(omega, a2f)
    print(
        "  same with mu* given at omega_max (rescaled): "
        + ", ".join(
            f"{solve_tc(omega, a2f, mu, EliashbergSettings(mustar_reference_cutoff_mev=m.omega_max_mev)).tc_kelvin:.2f}"
            for mu in (0.10, 0.13, 0.15)
        )
        + " K"
    )


if __name__ == "__main__":
    if "--validation" in sys.argv[1:]:
        validation()
    else:
        main()
