"""The scripts in examples/ as shipped: every one compiles, and the ones that finish in under a
minute run here (their output is shown in docs/examples.md)."""

from __future__ import annotations

import pathlib
import py_compile
import re
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("script", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_example_compiles(script):
    py_compile.compile(str(script), doraise=True)


def test_quartic_dimer_example_reaches_the_exact_scha_frequency():
    """``python examples/sscha_quartic_dimer.py``: python-sscha's populations against the
    self-consistent harmonic frequency solved exactly for the dimer."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "sscha_quartic_dimer.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    exact = float(re.search(r"exact SCHA ([\d.]+) cm\^-1", result.stdout).group(1))
    populations = re.findall(r"population \d+: ([\d.]+) cm\^-1", result.stdout)
    assert len(populations) == 4
    assert float(populations[-1]) == pytest.approx(exact, rel=0.01)


@pytest.mark.qe
def test_epc_example_on_tiny_aluminium(clathrate_setup, capsys, monkeypatch):
    """``python examples/epc_run.py --al-tiny`` (about 25 s): ElectronPhononWorkChain on fcc Al in
    the current profile (here the test profile, set up as ``aiida-clathrate setup`` does)."""
    import runpy

    monkeypatch.setattr(sys, "argv", ["epc_run.py", "--al-tiny"])
    runpy.run_path(str(EXAMPLES / "epc_run.py"), run_name="__main__")
    output = capsys.readouterr().out
    assert "Al: exit 0" in output, output
    assert re.search(r"chosen [\d.]+ Ry \(plateau found: True\): lambda 0\.\d+ \(QE\)", output)
    tcs = [float(t) for t in re.findall(r"mu\* = [\d.]+: Tc = ([\d.]+) K", output)]
    assert len(tcs) == 3 and tcs[0] > tcs[1] > tcs[2] > 0
