"""The study's figures and report from hand-made data (no AiiDA): the reference numbers, the
low-frequency share of lambda, the choice of each pair's representative run, the drawing
functions and the HTML/Markdown kernel (escaping, self-containment, each number's PK)."""

from __future__ import annotations

import base64
import re

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from aiida_clathrate import plotting  # noqa: E402
from aiida_clathrate.phonons import pdos_by_element  # noqa: E402
from aiida_clathrate.reference_study import headline_tc, synthesis_pressure_gpa  # noqa: E402
from aiida_clathrate.report import render_html, render_markdown, write_report  # noqa: E402
from aiida_clathrate.study_figures import (  # noqa: E402
    low_frequency_share,
    representative_run,
    share_rows,
    study_figures,
    summary_points,
    tc_display,
    tc_pressure_series,
)
from aiida_clathrate.units import to_mev  # noqa: E402

OMEGA_MAX_MEV = 50.0


def linear_spectrum(points: int = 501):
    """alpha^2F = omega/omega_max: alpha^2F/omega is flat, lambda(omega) = 2 omega/omega_max."""
    omega = np.linspace(0.0, OMEGA_MAX_MEV, points)
    return omega, omega / OMEGA_MAX_MEV


def branch(lambda_, tc, central=None, uncertainty=None, with_spectrum=True, pk=0):
    omega, a2f = linear_spectrum()
    values = {
        "lambda": lambda_,
        "omega_log_mev": 40.0,
        "dos_ef_states_per_ev_spin": 1.9,
        "tc_kelvin": tc,
        "tc_central_kelvin": central,
        "tc_uncertainty_kelvin": uncertainty,
        "tc_uncertainty_components": None
        if uncertainty is None
        else {"mustar_kelvin": 2.0, "sscha_kelvin": 0.5},
        "epc_pk": pk,
        "alpha2f_pk": pk + 1 if with_spectrum else None,
        "omega_mev": omega.tolist() if with_spectrum else None,
        "alpha2f": a2f.tolist() if with_spectrum else None,
        "low_frequency_share": low_frequency_share(omega, a2f) if with_spectrum else None,
        "pdos_pk": pk + 2 if with_spectrum else None,
        "pdos_frequency_cm1": [0.0, 200.0, 400.0] if with_spectrum else None,
        "pdos": {"K": [0, 1, 0], "Rb": [0, 2, 0], "B": [0, 1, 3], "C": [0, 1, 2]}
        if with_spectrum
        else None,
    }
    return values


def compound(pk, pressure, harmonic=None, anharmonic=None, populations=None, verdict="stable"):
    return {
        "pk": pk,
        "finished_ok": True,
        "pressure_gpa": pressure,
        "summary_pk": pk + 50,
        "mustar": [0.1, 0.13, 0.15],
        "harmonic_stable": verdict == "stable",
        "sscha_category": verdict if anharmonic else None,
        "lattice_parameter_angstrom": 4.70,
        "sscha_lattice_parameter_angstrom": 4.75 if anharmonic else None,
        "harmonic_pk": pk + 1,
        "sscha_pk": pk + 2 if anharmonic else None,
        "populations": populations,
        "thermodynamics": {"thermodynamics_pk": None},
        "harmonic": harmonic or {"epc_pk": None},
        "anharmonic": anharmonic or {"epc_pk": None},
    }


def study_data():
    """K-Rb: unstable at 0 GPa (SSCHA flat soft mode, lambda only anharmonic), stable at 5 GPa
    with Tc ± uncertainty; Sr: the 0 GPa run failed, unstable at 5 GPa without EPC."""
    populations = {"n_configurations": [10, 20, 30], "lowest_frequency_cm1": [-50.0, -5.0, 1.0]}
    krb_0 = compound(
        100,
        0.0,
        anharmonic=branch(0.9, [90.0, 87.5, 85.0], pk=110),
        populations=populations,
        verdict="flat_soft_mode",
    )
    krb_5 = compound(
        200,
        5.0,
        harmonic=branch(1.1, [70.0, 65.0, 60.0], pk=210),
        anharmonic=branch(1.0, [66.0, 63.9, 60.0], central=63.9, uncertainty=2.1, pk=220),
    )
    sr_5 = compound(300, 5.0, verdict="unstable")
    return {
        "study": {
            "pk": 7,
            "label": "",
            "ctime": "2025-01-01T00:00:00",
            "state": "finished",
            "exit_status": 0,
            "exit_message": None,
            "table_pk": 8,
            "settings": {
                "pairs": [["K", "Rb"], ["Sr"]],
                "pressures_gpa": [0.0, 5.0],
                "protocol": "fast",
                "overrides": {"note": "<script>alert('x')</script> & more"},
            },
        },
        "rows": [
            {
                "pair": ["K", "Rb"],
                "formula": "KRbB6C6",
                "average_valence": 1.0,
                "category": "stable_under_pressure",
                "lowest_stabilising_pressure_gpa": 5.0,
                "runs": [
                    {
                        "pressure_gpa": 0.0,
                        "pk": 100,
                        "verdict": "flat_soft_mode",
                        "compound": krb_0,
                    },
                    {"pressure_gpa": 5.0, "pk": 200, "verdict": "stable", "compound": krb_5},
                ],
            },
            {
                "pair": ["Sr"],
                "formula": "SrB3C3",
                "average_valence": 2.0,
                "category": "unstable",
                "lowest_stabilising_pressure_gpa": None,
                "runs": [
                    {"pressure_gpa": 0.0, "pk": None, "verdict": None},
                    {"pressure_gpa": 5.0, "pk": 300, "verdict": "unstable", "compound": sr_5},
                ],
            },
        ],
        "thermodynamics": [
            {
                "pk": 900,
                "formula": "KRbB6C6",
                "pair": ["K", "Rb"],
                "pressures_gpa": [0.0, 10.0, 20.0],
                "temperature_max_k": 4000.0,
                "synthesis_pressure_gpa": 14.44,
                "stable_pressure_gpa": None,
            }
        ],
    }


def test_the_reference_numbers_match_pairs_in_any_order():
    assert headline_tc(["Rb", "K"], 0.0).tc_anharmonic_kelvin == 87.0
    assert headline_tc(["K", "Rb"], 0.0).tc_harmonic_kelvin is None
    assert headline_tc(["Rb", "Rb"], 15.0).tc_harmonic_kelvin == 93.0
    assert headline_tc(["Rb"], 0.0) is None
    assert headline_tc(["Pb", "K"], 0.0).tc_harmonic_kelvin == 88.0
    assert synthesis_pressure_gpa(["Pb", "K"]) == 50.0
    assert synthesis_pressure_gpa(["Sr"]) is None
    with pytest.raises(ValueError, match="a pair is"):
        headline_tc([], 0.0)


def test_low_frequency_share_of_a_flat_spectrum_is_the_cutoff_fraction():
    omega, a2f = linear_spectrum()
    cutoff_mev = float(to_mev(200.0, "cm-1"))  # 24.80 meV
    # the quadrature takes alpha^2F/omega = 0 at omega = 0: the first step counts half
    half_step = 0.5 * omega[1]
    expected = (cutoff_mev - half_step) / (OMEGA_MAX_MEV - half_step)
    assert low_frequency_share(omega, a2f) == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(0.4954, abs=1e-4)
    assert low_frequency_share(omega, a2f, cutoff_cm1=1e6) == pytest.approx(1.0)
    # all the weight above the cutoff: no share
    high = np.where(omega > 30.0, 1.0, 0.0)
    assert low_frequency_share(omega, high) == pytest.approx(0.0)
    assert low_frequency_share(omega, np.zeros_like(omega)) is None  # no coupling


def test_tc_display_prefers_central_and_uncertainty_else_middle_mustar():
    assert tc_display({"tc_kelvin": [3.0, 2.0, 1.0]}) == (2.0, None)
    assert tc_display({"tc_kelvin": [3.0, 2.0], "tc_central_kelvin": 2.5}) == (2.5, None)
    assert tc_display(
        {"tc_kelvin": [3.0, 2.0, 1.0], "tc_central_kelvin": 2.2, "tc_uncertainty_kelvin": 0.4}
    ) == (2.2, 0.4)
    assert tc_display({"tc_kelvin": None}) == (None, None)
    assert tc_display(None) == (None, None)


def test_representative_runs_and_figure_inputs():
    data = study_data()
    krb, sr = data["rows"]
    run, stable = representative_run(krb)
    assert (run["pressure_gpa"], stable) == (5.0, True)
    assert representative_run(sr) == (None, False)  # no lambda anywhere
    unstable = {**krb, "lowest_stabilising_pressure_gpa": None}
    run, stable = representative_run(unstable)
    assert (run["pressure_gpa"], stable) == (0.0, False)  # lowest pressure with a lambda

    series, references = tc_pressure_series(data)
    assert series[0]["pressures_gpa"] == [0.0, 5.0]
    assert series[0]["tc_harmonic_kelvin"] == [None, 65.0]
    assert series[0]["tc_anharmonic_kelvin"] == [87.5, 63.9]
    assert series[0]["tc_anharmonic_error_kelvin"] == [None, 2.1]
    assert series[1]["tc_harmonic_kelvin"] == [None, None]
    assert [(r["label"], r["pressure_gpa"]) for r in references] == [
        ("KRbB6C6", 0.0),
        ("SrB3C3", 0.0),
    ]
    points = summary_points(data)
    assert [p["label"] for p in points] == ["KRbB6C6 5 GPa"]
    assert points[0]["anharmonic"]["tc_kelvin"] == 63.9
    rows, shares = share_rows(data)
    assert rows[0]["harmonic"] == pytest.approx(0.4954, abs=1e-4)
    assert {r["label"]: r["share"] for r in shares} == {"SrNaB6C6": 0.19, "CaRbB6C6": 0.25}


def test_pdos_by_element_sums_the_atoms_of_each_element():
    text = "# Frequency[cm^-1] DOS PDOS\n0 0 0 0 0 0\n100 6 1 2 1.5 1.5\n"
    frequency, curves = pdos_by_element(text, ["K", "B", "B", "C"])
    assert frequency.tolist() == [0.0, 100.0]
    assert list(curves) == ["K", "B", "C"]
    assert curves["B"].tolist() == [0.0, 3.5] and curves["C"].tolist() == [0.0, 1.5]
    with pytest.raises(ValueError, match="expected 2 \\+ 3 sites"):
        pdos_by_element(text, ["K", "B", "C"])


def _texts(figure) -> str:
    return " ".join(t.get_text() for ax in figure.axes for t in ax.texts)


def test_figures_draw_the_data_given():
    omega, a2f = linear_spectrum()
    figure = plotting.plot_soft_mode_convergence(
        [{"label": "x", "n_configurations": [10, 20, 30], "lowest_frequency_cm1": [-5, 0, 2]}]
    )
    line = figure.axes[0].get_lines()[0]
    assert line.get_xdata().tolist() == [10, 30, 60] and line.get_ydata().tolist() == [-5, 0, 2]

    figure = plotting.plot_low_frequency_share(
        [{"label": "A", "harmonic": 0.3, "anharmonic": None}], [{"label": "S", "share": 0.19}]
    )
    heights = sorted(round(p.get_height(), 6) for p in figure.axes[0].patches)
    assert heights == [19.0, 30.0]

    figure = plotting.plot_phonon_pdos_a2f(
        [
            {
                "label": "harmonic",
                "pdos_frequency_cm1": [0, 100, 200],
                "pdos": {"B": [0, 1, 0]},
                "omega_mev": omega.tolist(),
                "alpha2f": a2f.tolist(),
            }
        ]
    )
    twin = figure.axes[-1]  # lambda(omega) on the twin axis: 2 at omega_max (half first step)
    assert twin.get_lines()[0].get_xdata()[-1] == pytest.approx(2.0 * (1 - 0.5 * omega[1] / 50))

    figure = plotting.plot_tc_pressure(
        [
            {
                "label": "A",
                "pressures_gpa": [0.0, 5.0],
                "tc_harmonic_kelvin": [None, 10.0],
                "tc_anharmonic_kelvin": [20.0, 30.0],
                "tc_anharmonic_error_kelvin": [None, 3.0],
            }
        ]
    )
    ys = sorted(tuple(line.get_ydata().tolist()) for line in figure.axes[0].get_lines())
    assert (10.0,) in ys and (20.0, 30.0) in ys
    # the error bar of the 5 GPa anharmonic point spans 27..33 K
    segments = [s for c in figure.axes[0].collections for s in c.get_segments() if len(s) == 2]
    assert any(np.allclose(s, [[5.0, 27.0], [5.0, 33.0]]) for s in segments)


def test_figures_without_data_say_so():
    assert "no Tc" in _texts(plotting.plot_tc_pressure([]))
    assert "no compound" in _texts(plotting.plot_compound_summary([]))
    assert "no α²F computed" in _texts(plotting.plot_low_frequency_share([], []))
    assert "no SSCHA" in _texts(plotting.plot_soft_mode_convergence([]))
    figure = plotting.plot_phonon_pdos_a2f(
        [{"label": "harmonic", "alpha2f": [0.0, 0.0], "omega_mev": [1.0, 2.0]}]
    )
    assert "no projected phonon DOS" in _texts(figure) and "α²F not drawn" in _texts(figure)


def test_study_figures_of_an_incomplete_study():
    data = study_data()
    names = set(study_figures(data))
    assert names == {
        "study_tc_pressure",
        "study_summary",
        "study_low_frequency_lambda",
        "study_spectra_KRbB6C6",
        "study_soft_mode",
    }
    empty = {**data, "rows": []}
    assert "study_spectra_KRbB6C6" not in study_figures(empty)


def _rows_of(html: str, caption_start: str) -> list[list[str]]:
    table = re.search(
        rf"<table><caption>{re.escape(caption_start)}.*?</table>", html, flags=re.S
    ).group(0)
    return [
        re.findall(r"<td>(.*?)</td>", row)
        for row in re.findall(r"<tr>(.*?)</tr>", table)
        if "<td>" in row
    ]


def test_html_report_is_escaped_self_contained_and_carries_pks():
    data = study_data()
    png = {"study_tc_pressure": b"\x89PNG fake", "study_summary": b"\x89PNG other"}
    page = render_html(data, png, {"study_tc_pressure": "Tc <P>"})
    assert "<script>" not in page and "&lt;script&gt;" in page and "Tc &lt;P&gt;" in page
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert base64.b64decode(sources[0].split(",", 1)[1]) == b"\x89PNG fake"
    assert "http" not in page.replace("http-equiv", "")
    categories = _rows_of(page, "The study category")
    assert categories == [
        ["K-Rb", "KRbB6C6", "1.00", "stable_under_pressure", "5.0", "100, 200"],
        ["Sr", "SrB3C3", "2.00", "unstable", "–", "–, 300"],
    ]
    runs = _rows_of(page, "Every run")
    assert runs[1][:4] == ["KRbB6C6", "5.0", "stable", "200"]
    assert runs[1][-2:] == ["65.0", "63.9 ± 2.1"]  # middle mu*; central ± uncertainty
    assert runs[2][2] == "not launched"
    details = _rows_of(page, "KRbB6C6 at 5 GPa")
    by_name = {row[0]: row[1:] for row in details}
    assert by_name["λ"] == ["1.1000", "210", "1.0000", "220"]
    assert by_name["Tc ± uncertainty (K), else at the middle μ*"] == [
        "65.0",
        "210",
        "63.9 ± 2.1",
        "250",
    ]
    assert by_name["uncertainty components"][2:] == ["mu* 2.0, SSCHA 0.5 K", "250"]
    assert by_name["lattice parameter (Å)"] == ["4.7000", "201", "4.7500", "202"]
    # the study's KRbB6C6 is at 0 GPa: our 0 GPa run beside it (harmonic unstable there)
    reference = _rows_of(page, "The study&#x27;s headline Tc")
    assert reference == [["KRbB6C6", "0.0", "–", "unstable", "87.5", "87", "100"]]
    thermodynamics = _rows_of(page, "Synthesis pressure")
    assert thermodynamics == [["KRbB6C6", "4000", "14.4", "20", "–", "0, 10, 20", "900"]]


def test_markdown_report_links_its_figures(tmp_path):
    data = study_data()
    text = render_markdown(data, {"study_soft_mode": "s_soft.png"}, {"study_soft_mode": "a|b"})
    assert "![a\\|b](s_soft.png)" in text
    assert (
        "| KRbB6C6 | 5.0 | stable | 200 | 4.7000 | 4.7500 | 1.100 | 1.000 | 65.0 | 63.9 ± 2.1 |"
        in text
    )

    html_path, markdown_path = write_report(data, tmp_path / "out")
    pngs = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert len(pngs) == 5 and all(p.startswith("study_7_study_") for p in pngs)
    markdown = markdown_path.read_text()
    assert all(f"]({name})" in markdown for name in pngs)
    page = html_path.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 5
    assert all(base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n") for image in images)


def test_the_html_report_renders_in_a_browser_with_every_figure(tmp_path):
    from browser import BROKEN_IMAGE, rendered

    html_path, _ = write_report(study_data(), tmp_path)
    dom, decoded, images = rendered(html_path)
    assert (decoded, images) == (5, 5)
    # settings, categories, runs, the 3 runs with a compound, ours vs the study, the
    # low-frequency shares, the thermodynamics
    assert dom.count("<table>") == 9
    assert "<td>stable_under_pressure</td>" in dom and "<td>63.9 ± 2.1</td>" in dom
    assert "<script>alert" not in dom.split('<div id="image-probe">')[0]  # escaped, not run
    _, decoded, images = rendered(html_path, BROKEN_IMAGE)
    assert (decoded, images) == (5, 6)
