"""Bad input at the door: every case below ends in one clear message and a non-zero exit (command
line) or a ``ValueError`` (builders, process inputs), with no traceback and no node stored."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from aiida import orm
from click.testing import CliRunner

from aiida_clathrate.cli import cmd_root

XYZ_WITH_NAN_FORCES = """2
Lattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3:forces:R:3 energy=-10.0 pbc="T T T"
B 0.0 0.0 0.0 0.1 0.0 nan
C 1.5 1.5 1.5 -0.1 0.0 0.0
"""


def _node_count() -> int:
    return orm.QueryBuilder().append(orm.Node).count()


@pytest.fixture(scope="module")
def nodes(clathrate_setup, tmp_path_factory):
    """PKs and files the cases refer to: a node that is not a model, a harmonic run or a set."""
    folder = tmp_path_factory.mktemp("bad_inputs")
    (folder / "empty.xyz").write_text("")
    (folder / "not_xyz.txt").write_text("this is not a configuration file\n")
    (folder / "nan_forces.xyz").write_text(XYZ_WITH_NAN_FORCES)
    (folder / "bad.json").write_text("{not json")
    (folder / "batch.json").write_text(json.dumps({"batch_size": 1.5}))
    (folder / "time.json").write_text(json.dumps({"max_time_per_member_s": -10}))
    (folder / "list.json").write_text(json.dumps([1, 2]))
    omega_ev = np.linspace(0.001, 0.15, 150)
    a2f = np.exp(-(((omega_ev - 0.06) / 0.02) ** 2))
    rows = "\n".join(f"{w:.6f} {a:.6f} {0.9 * a:.6f}" for w, a in zip(omega_ev, a2f, strict=True))
    (folder / "ev.dat").write_text(rows + "\n")
    (folder / "header_ev.dat").write_text("# omega (eV)  a2F(s1)  a2F(s2)\n" + rows + "\n")
    from aiida_clathrate.data.configurations import ConfigurationSetData
    from aiida_clathrate.mlp.frames import Frame

    frame = Frame(
        symbols=("B", "C"),
        positions_angstrom=[[0, 0, 0], [1.5, 1.5, 1.5]],
        cell_angstrom=np.eye(3) * 4.0,
        energy_ev=-10.0,
        forces_ev_per_angstrom=[[0.1, 0, 0], [-0.1, 0, 0]],
    )
    labelled = ConfigurationSetData(frames=[frame]).store()
    return {"int": orm.Int(7).store().pk, "set": labelled.pk, "folder": folder}


@pytest.fixture
def daemon_stopped(aiida_profile):
    """The daemon is not running during the case (and restarted afterwards if it was)."""
    from aiida.engine.daemon.client import get_daemon_client

    client = get_daemon_client(aiida_profile.name)
    was_running = client.is_daemon_running
    if was_running:
        client.stop_daemon(wait=True)
    yield
    if was_running:
        client.start_daemon()


# (id, arguments with {int} and {folder} placeholders, expected text in the message)
CLI_CASES = [
    ("harmonic-negative-pressure", "launch harmonic K Rb --pressure -50", "pressure must be"),
    ("harmonic-huge-pressure", "launch harmonic K Rb --pressure 1e6", "[0, 300] GPa"),
    ("harmonic-nan-pressure", "launch harmonic K Rb --pressure nan", "pressure must be"),
    ("harmonic-inf-pressure", "launch harmonic K Rb --pressure inf", "pressure must be"),
    ("harmonic-zero-mpiprocs", "launch harmonic K Rb --num-mpiprocs 0", "--num-mpiprocs"),
    ("harmonic-negative-mpiprocs", "launch harmonic K Rb --num-mpiprocs -2", "--num-mpiprocs"),
    ("harmonic-zero-lattice", "launch harmonic K Rb --lattice-parameter 0", "lattice parameter"),
    ("harmonic-huge-lattice", "launch harmonic K Rb --lattice-parameter 100", "[3.5, 7] Å"),
    ("harmonic-nan-lattice", "launch harmonic K Rb --lattice-parameter nan", "lattice parameter"),
    ("harmonic-unknown-element", "launch harmonic Xx Rb", "Xx"),
    ("harmonic-framework-guest", "launch harmonic B", "framework element"),
    ("harmonic-family-missing", "launch harmonic K Rb --pseudo-family NOPE/1.0", "not installed"),
    ("harmonic-protocol", "launch harmonic K Rb --protocol ultra", "ultra"),
    ("compound-mustar-high", "launch compound K Rb --mustar 0.7", "0.7"),
    ("compound-mustar-negative", "launch compound K Rb --mustar -0.1", "-0.1"),
    ("compound-mustar-nan", "launch compound K Rb --mustar nan", "nan"),
    ("compound-no-sscha-engine", "launch compound K Rb --no-sscha --sscha-engine active", "--no-sscha"),
    ("compound-no-sscha-model", "launch compound K Rb --no-sscha --mlp-model {int}", "--no-sscha"),
    ("compound-model-missing", "launch compound K Rb --sscha-engine mlp --mlp-model 99999999", "no such node"),
    ("compound-model-wrong-type", "launch compound K Rb --sscha-engine mlp --mlp-model {int}", "not a trained MlpModelData"),
    ("compound-model-ignored", "launch compound K Rb --mlp-model {int}", "--sscha-engine mlp only"),
    ("compound-mlp-without-model", "launch compound K Rb --sscha-engine mlp", "mlp"),
    ("compound-wait-alone", "launch compound K Rb --wait", "--wait only applies"),
    ("compound-negative-pressure", "launch compound K Rb --pressure -1", "pressure must be"),
    ("compound-family-missing", "launch compound K Rb --pseudo-family NOPE/1.0", "not installed"),
    ("compound-zero-mpiprocs", "launch compound K Rb --num-mpiprocs 0", "--num-mpiprocs"),
    ("sscha-mlp-without-model", "launch sscha K Rb --engine mlp", "needs --model"),
    ("sscha-model-ignored", "launch sscha K Rb --engine dft --model {int}", "--engine mlp only"),
    ("sscha-negative-temperature", "launch sscha K Rb --temperature -5", "--temperature"),
    ("sscha-nan-temperature", "launch sscha K Rb --temperature nan", "--temperature"),
    ("sscha-harmonic-missing", "launch sscha K Rb --harmonic 99999999", "no such node"),
    ("sscha-harmonic-wrong-type", "launch sscha K Rb --harmonic {int}", "not a finished-ok"),
    ("sscha-harmonic-and-lattice", "launch sscha K Rb --harmonic {int} --lattice-parameter 4.7", "does not apply"),
    ("sscha-zero-mpiprocs", "launch sscha K Rb --num-mpiprocs 0", "--num-mpiprocs"),
    ("sscha-huge-pressure", "launch sscha K Rb --pressure 1e6", "pressure must be"),
    ("query-stable-and-unstable", "query --stable --unstable", "exclude each other"),
    ("query-nan-tc", "query --tc-min nan", "finite"),
    ("query-inf-pressure", "query --pressure inf", "finite"),
    ("query-mustar-high", "query --mustar 0.7", "0.7"),
    ("mlp-import-empty", "mlp import {folder}/empty.xyz", "empty"),
    ("mlp-import-not-xyz", "mlp import {folder}/not_xyz.txt", "cannot read"),
    ("mlp-import-nan-forces", "mlp import {folder}/nan_forces.xyz", "nan or inf"),
    ("mlp-import-missing-file", "mlp import {folder}/missing.xyz", "does not exist"),
    ("mlp-train-missing-set", "mlp train 99999999", "no such node"),
    ("mlp-train-wrong-set", "mlp train {int}", "not a ConfigurationSetData"),
    ("mlp-train-wrong-code", "mlp train {int} --code pw@localhost", "not clathrate.mlp.train"),
    ("mlp-train-missing-code", "mlp train {int} --code nope@localhost", "no such code"),
    ("mlp-train-bad-json", "mlp train {set} --parameters {folder}/bad.json", "not a JSON file"),
    ("mlp-train-json-list", "mlp train {set} --parameters {folder}/list.json", "JSON object"),
    ("mlp-train-batch-size", "mlp train {set} --parameters {folder}/batch.json", "batch_size must be an integer"),
    ("mlp-train-negative-time", "mlp train {set} --parameters {folder}/time.json", "max_time_per_member_s"),
    ("mlp-train-zero-threads", "mlp train {set} --threads 0", "--threads"),
    ("eliashberg-ev-read-as-mev", "eliashberg {folder}/ev.dat", "the highest frequency"),
    ("eliashberg-units-against-header", "eliashberg {folder}/header_ev.dat --units meV", "header gives"),
    ("eliashberg-column-and-broadening", "eliashberg {folder}/ev.dat --units eV --column 3 --broadening 2", "not both"),
    ("eliashberg-mustar-high", "eliashberg {folder}/header_ev.dat --mustar 0.7", "0.7"),
]  # fmt: skip

DAEMON_CASES = [
    ("harmonic-daemon-stopped", "launch harmonic K Rb --daemon", "daemon is not running"),
    ("compound-daemon-stopped", "launch compound K Rb --daemon", "daemon is not running"),
    ("sscha-daemon-stopped", "launch sscha K Rb --daemon", "daemon is not running"),
    ("train-daemon-stopped", "mlp train {int} --submit", "daemon is not running"),
]


def _refused(nodes, arguments: str, expected: str) -> None:
    args = arguments.format(**nodes).split()
    before = _node_count()
    result = CliRunner().invoke(cmd_root, args)
    output = result.output
    assert result.exit_code != 0, output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback: {result.exception!r}"
    )
    assert "Traceback" not in output
    assert expected in output, output
    assert _node_count() == before, f"nodes stored by: {arguments}"


@pytest.mark.parametrize(
    ("arguments", "expected"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_command_line_refuses(nodes, arguments, expected):
    _refused(nodes, arguments, expected)


@pytest.mark.parametrize(
    ("arguments", "expected"), [c[1:] for c in DAEMON_CASES], ids=[c[0] for c in DAEMON_CASES]
)
def test_command_line_refuses_daemon_submission_without_daemon(
    nodes, daemon_stopped, arguments, expected
):
    _refused(nodes, arguments, expected)


def _harmonic_builder(qe_codes, **kwargs):
    from aiida_clathrate.structures import clathrate
    from aiida_clathrate.workflows.harmonic import HarmonicPhononWorkChain

    structure = orm.StructureData(ase=clathrate("K", "Rb"))
    return HarmonicPhononWorkChain.get_builder_from_protocol(qe_codes, structure, "fast", **kwargs)


def _epc_builder(qe_codes, **kwargs):
    from aiida_clathrate.structures import clathrate
    from aiida_clathrate.workflows.epc import ElectronPhononWorkChain

    structure = orm.StructureData(ase=clathrate("K", "Rb"))
    return ElectronPhononWorkChain.get_builder_from_protocol(qe_codes, structure, "fast", **kwargs)


def _compound_builder(qe_codes, **kwargs):
    from aiida_clathrate.structures import clathrate
    from aiida_clathrate.workflows.compound import ClathrateSuperconductorWorkChain

    codes = {"sscha": "clathrate-sscha@localhost", **qe_codes}
    structure = orm.StructureData(ase=clathrate("K", "Rb"))
    return ClathrateSuperconductorWorkChain.get_builder_from_protocol(
        codes, structure, "fast", **kwargs
    )


def _with_code(build, key: str, label: str):
    """``build`` with the code of ``key`` replaced by ``label`` (a code of another plugin)."""

    def swapped(qe_codes, **kwargs):
        return build({**qe_codes, key: label}, **kwargs)

    return swapped


BUILDER_CASES = [
    ("harmonic-ph-code-is-pw", _with_code(_harmonic_builder, "ph", "pw@localhost"), {}, "runs quantumespresso.pw, not quantumespresso.ph"),
    ("harmonic-pw-code-is-matdyn", _with_code(_harmonic_builder, "pw", "matdyn@localhost"), {}, "not quantumespresso.pw"),
    ("epc-q2r-code-is-ph", _with_code(_epc_builder, "q2r", "ph@localhost"), {}, "runs quantumespresso.ph, not quantumespresso.q2r"),
    ("compound-sscha-code-is-mlp", _with_code(_compound_builder, "sscha", "clathrate-mlp@localhost"), {}, "not clathrate.sscha.minimize"),
    ("harmonic-override-typo", _harmonic_builder, {"overrides": {"kpoint_mesh": [2, 2, 2]}}, "kpoint_mesh"),
    ("harmonic-zero-mesh", _harmonic_builder, {"overrides": {"kpoints_mesh": [0, 0, 0]}}, "three positive integers"),
    ("harmonic-short-mesh", _harmonic_builder, {"overrides": {"qpoints_mesh": [1, 1]}}, "three positive integers"),
    ("harmonic-fractional-mesh", _harmonic_builder, {"overrides": {"dos_qpoints_mesh": [8, 8, 8.5]}}, "three positive integers"),
    ("builder-negative-pressure", _harmonic_builder, {"pressure_gpa": -50.0}, "pressure must be"),
    ("epc-override-typo", _epc_builder, {"overrides": {"dense_kpoint_mesh": [4, 4, 4]}}, "dense_kpoint_mesh"),
    ("epc-zero-mesh", _epc_builder, {"overrides": {"dense_kpoints_mesh": [0, 4, 4]}}, "three positive integers"),
    ("compound-override-typo", _compound_builder, {"overrides": {"harmonic": {"kpoint_mesh": [2, 2, 2]}}}, "kpoint_mesh"),
    ("compound-namespace-typo", _compound_builder, {"overrides": {"ssha": {}}}, "ssha"),
    ("compound-sscha-typo", _compound_builder, {"overrides": {"sscha": {"population_size": [4]}}}, "population_size"),
    ("compound-huge-pressure", _compound_builder, {"pressure_gpa": 1e6}, "pressure must be"),
    ("compound-mustar", _compound_builder, {"mustar": [0.6]}, "0.6"),
    ("compound-engine", _compound_builder, {"sscha_engine": "magic"}, "magic"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("build", "kwargs", "expected"),
    [c[1:] for c in BUILDER_CASES],
    ids=[c[0] for c in BUILDER_CASES],
)
def test_builders_refuse(qe_codes, build, kwargs, expected):
    before = _node_count()
    with pytest.raises(ValueError, match=None) as info:
        build(qe_codes, **kwargs)
    assert expected in str(info.value)
    assert _node_count() == before


@pytest.mark.parametrize("pressure_gpa", [-50.0, 1e6, float("nan"), float("inf")])
def test_work_chains_refuse_a_pressure_before_running(qe_codes, pressure_gpa):
    """The port validator, for inputs set by hand rather than through a builder."""
    from aiida.engine import run

    from aiida_clathrate.workflows.harmonic import HarmonicPhononWorkChain

    builder = _harmonic_builder(qe_codes)
    before = _node_count()
    with pytest.raises(ValueError, match="pressure must be"):
        builder.pressure_gpa = orm.Float(pressure_gpa)  # the builder checks the port
    inputs = {**builder._inputs(prune=True), "pressure_gpa": orm.Float(pressure_gpa)}
    with pytest.raises(ValueError, match="pressure must be"):
        run(HarmonicPhononWorkChain, **inputs)  # and so does the process
    assert _node_count() == before


def test_cases_are_many_and_distinct():
    ids = [c[0] for c in CLI_CASES + DAEMON_CASES + BUILDER_CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) + 4 >= 40
    assert pathlib.Path(__file__).name == "test_bad_inputs.py"


def test_eliashberg_reads_the_unit_from_the_header_and_applies_broadening(nodes):
    """The same spectrum in eV: the header's unit is used, --broadening 2 picks column 3."""
    folder = nodes["folder"]
    runner = CliRunner()
    plain = runner.invoke(
        cmd_root, ["eliashberg", str(folder / "ev.dat"), "--units", "eV", "--no-gap"]
    )
    header = runner.invoke(cmd_root, ["eliashberg", str(folder / "header_ev.dat"), "--no-gap"])
    second = runner.invoke(
        cmd_root, ["eliashberg", str(folder / "header_ev.dat"), "--broadening", "2", "--no-gap"]
    )
    for result in (plain, header, second):
        assert result.exit_code == 0, result.output
    assert plain.output.splitlines()[1:] == header.output.splitlines()[1:]
    assert "(ev)" in header.output.splitlines()[0].lower()

    def lambda_of(output: str) -> float:
        return float(output.splitlines()[1].split()[2])

    # column 3 is 0.9 x column 2: lambda scales with alpha^2F
    assert lambda_of(second.output) == pytest.approx(0.9 * lambda_of(header.output), rel=1e-3)


@pytest.mark.parametrize("port", ["dos_qpoints", "ph.qpoints", "scf.kpoints"])
def test_work_chains_refuse_an_empty_mesh_set_by_hand(qe_codes, port):
    """A KpointsData with a zero in its mesh, set by hand (aiida-core accepts it), fails at the
    DFPT work chain's door inside the harmonic one, before anything is stored."""
    from aiida.engine import run

    from aiida_clathrate.workflows.harmonic import HarmonicPhononWorkChain

    inputs = _harmonic_builder(qe_codes)._inputs(prune=True)
    mesh = orm.KpointsData()
    mesh.set_kpoints_mesh([4, 0, 4])
    target = inputs["dfpt"]
    *parents, last = port.split(".")
    for key in parents:
        target = target[key]
    target[last] = mesh
    before = _node_count()
    with pytest.raises(ValueError, match=f"{port} must be three positive integers"):
        run(HarmonicPhononWorkChain, **inputs)
    assert _node_count() == before


#: In a fresh profile where `aiida-clathrate setup` never ran: each command is refused, and
#: nothing (codes, computer, pseudopotentials, groups, nodes) is stored on the way.
FRESH_PROFILE_SCRIPT = """
import json
from click.testing import CliRunner
from aiida_clathrate.cli import cmd_root

results = []
for arguments in json.loads(sys.argv[1]):
    result = CliRunner().invoke(cmd_root, arguments.split())
    results.append({
        "arguments": arguments,
        "exit_code": result.exit_code,
        "traceback": result.exception is not None and not isinstance(result.exception, SystemExit),
        "output": result.output[-400:],
        "nodes": orm.QueryBuilder().append(orm.Node).count(),
        "groups": orm.QueryBuilder().append(orm.Group).count(),
        "computers": orm.QueryBuilder().append(orm.Computer).count(),
    })
print("RESULT" + json.dumps(results))
"""

FRESH_PROFILE_CASES = [
    "launch sscha K Rb --harmonic 99999999",
    "launch sscha K Rb --engine mlp --model 99999999",
    "launch sscha K Rb --pseudo-family no-such-family",
    "launch compound K Rb --pseudo-family no-such-family",
    "launch harmonic K Rb --pressure -50",
    "launch compound K Rb --mustar 0.7",
]


def test_refusals_in_a_profile_without_setup_store_nothing(tmp_path):
    """Issue 31: `launch sscha` in a profile without setup once stored 8 codes, 18
    pseudopotentials and a family group before it crashed. Every check now comes before setup."""
    from archive_roundtrip import FRESH_PROFILE_SOURCE, run_in_fresh_profile

    cases = run_in_fresh_profile(
        FRESH_PROFILE_SOURCE + FRESH_PROFILE_SCRIPT,
        [json.dumps(FRESH_PROFILE_CASES), str(tmp_path)],
        tmp_path,
        timeout=300,
    )
    for case in cases:
        assert case["exit_code"] != 0, case
        assert not case["traceback"], case
        assert "Traceback" not in case["output"], case
        assert case["nodes"] == case["groups"] == case["computers"] == 0, case
