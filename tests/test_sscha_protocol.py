"""``SschaWorkChain.get_builder_from_protocol`` (``protocols/sscha.yaml``), its use by the compound
work chain and by ``launch sscha`` (``sscha_builder_on_harmonic``), and that nothing outside the
command line imports from it (builders only; no DFT runs)."""

from __future__ import annotations

import ast
import pathlib
import sys

import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine.processes.builder import ProcessBuilderNamespace

from aiida_clathrate.structures import clathrate
from aiida_clathrate.workflows.compound import ClathrateSuperconductorWorkChain
from aiida_clathrate.workflows.sscha import SschaWorkChain
from aiida_clathrate.workflows.sscha_inputs import (
    harmonic_scf_settings,
    sscha_builder_on_harmonic,
)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from test_sscha_kernel import K_EV_PER_A2, dimer, spring_force_constants  # noqa: E402

ROOT = pathlib.Path(__file__).parents[1]
#: A harmonic scf's SYSTEM namelist (the fast protocol's for KRbB6C6).
SYSTEM = {
    "ecutwfc": 30.0,
    "ecutrho": 120.0,
    "occupations": "smearing",
    "smearing": "mv",
    "degauss": 0.02,
    "nosym": False,
}
#: population_sizes, max_populations, max_concurrent_dft, hessian_bootstrap_samples (fast: what
#: `make demo` runs).
PROTOCOLS = {
    "fast": ([20, 40], 2, 4, 8),
    "balanced": ([100, 200, 400], 10, 8, 20),
    "stringent": ([200, 500, 1000], 20, 8, 20),
}


@pytest.fixture
def codes(clathrate_setup):
    return {
        "sscha": "clathrate-sscha@localhost",
        "pw": "pw@localhost",
        "mlp": "clathrate-mlp@localhost",
    }


@pytest.fixture
def krb():
    return orm.StructureData(ase=clathrate("K", "Rb"))


@pytest.fixture
def matrices(aiida_profile):
    """Valid starting matrices (the quartic dimer at Gamma: q-mesh 1x1x1)."""
    from aiida_clathrate.data.dynamical_matrices import from_phonons
    from aiida_clathrate.sscha.dynamical_matrix import phonons_from_force_constants

    return from_phonons(phonons_from_force_constants(dimer(), spring_force_constants(K_EV_PER_A2)))


def _build(codes, structure, protocol, engine="dft", **kwargs):
    kwargs.setdefault("energy_surface", SYSTEM)
    kwargs.setdefault("kpoints_mesh", [8, 8, 8])
    kwargs.setdefault("qpoints_mesh", [2, 2, 2])
    return SschaWorkChain.get_builder_from_protocol(
        codes, structure, None, protocol, engine=engine, **kwargs
    )


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
@pytest.mark.parametrize("engine", ["dft", "active"])
def test_each_protocol_builds(codes, krb, protocol, engine):
    sizes, max_populations, max_concurrent, bootstrap = PROTOCOLS[protocol]
    builder = _build(codes, krb, protocol, engine)
    assert builder.population_sizes.get_list() == sizes
    assert builder.hessian_bootstrap_samples.value == bootstrap
    assert builder.max_populations.value == max_populations
    assert builder.max_concurrent_dft.value == max_concurrent
    assert builder.seed.value == 1
    assert builder.temperature_kelvin.value == 0.0
    assert builder.stability_tolerance_cm1.value == 10.0
    assert builder.minimizer_settings.get_dict() == {"kong_liu_ratio": 0.6}
    assert "target_pressure_gpa" not in builder
    assert builder.engine.value == engine
    assert builder.minimize.code.label == "clathrate-sscha"
    # the DFT engine on the given energy surface, forces and stress, the supercell's k-mesh
    parameters = builder.dft.pw.parameters.get_dict()
    for key in ("ecutwfc", "ecutrho", "occupations", "smearing", "degauss"):
        assert parameters["SYSTEM"][key] == SYSTEM[key], key
    assert parameters["CONTROL"]["tprnfor"] is parameters["CONTROL"]["tstress"] is True
    assert builder.dft.kpoints.get_kpoints_mesh()[0] == [4, 4, 4]
    assert "structure" not in builder.dft.pw
    if engine == "active":
        assert builder.mlp.code.label == builder.train.code.label == "clathrate-mlp"
        assert builder.committee_size.value == 4
        assert builder.n_dft_populations.value == 1
        assert builder.spread_threshold_factor.value == pytest.approx(3.0)
        assert builder.mlp.dtype.value == "float32" and builder.mlp.num_workers.value == 1
    else:
        assert "committee_size" not in builder and "code" not in builder.mlp


def test_default_protocol_and_matrices_mesh(codes, krb, matrices):
    assert SschaWorkChain.get_default_protocol() == "balanced"
    assert set(SschaWorkChain.get_available_protocols()) == set(PROTOCOLS)
    builder = SschaWorkChain.get_builder_from_protocol(
        codes, krb, matrices, energy_surface=SYSTEM, kpoints_mesh=[3, 3, 3]
    )
    assert builder.dynamical_matrices is matrices
    assert builder.population_sizes.get_list() == [100, 200, 400]
    assert builder.dft.kpoints.get_kpoints_mesh()[0] == [3, 3, 3]  # the matrices' q-mesh 1x1x1


def test_mlp_engine(codes, krb, matrices):
    from aiida_clathrate.data.model import MlpModelData

    model = MlpModelData()
    builder = SschaWorkChain.get_builder_from_protocol(
        codes, krb, matrices, "fast", engine="mlp", mlp_model=model
    )
    assert builder.mlp.model is model and builder.mlp.code.label == "clathrate-mlp"
    assert builder.mlp.dtype.value == "float32" and builder.mlp.num_workers.value == 1
    builder = SschaWorkChain.get_builder_from_protocol(
        codes,
        krb,
        matrices,
        "fast",
        engine="mlp",
        mlp_model=model,
        overrides={"mlp_evaluate_workers": 2, "mlp_evaluate_dtype": "float64"},
    )
    assert builder.mlp.dtype.value == "float64" and builder.mlp.num_workers.value == 2
    inputs = builder._inputs(prune=True)
    assert "dft" not in inputs and "train" not in inputs


def test_overrides(codes, krb):
    builder = _build(
        codes,
        krb,
        "fast",
        "active",
        overrides={
            "population_sizes": [8, 16],
            "max_populations": 3,
            "seed": 7,
            "minimizer_settings": {"meaningful_factor": 100.0},
            "committee_size": 2,
            "spread_threshold_ev_per_angstrom": 0.2,
            "max_validation_force_rmse_mev_per_angstrom": 80.0,
            "compute_hessian": False,
        },
        target_pressure_gpa=5.0,
        temperature_kelvin=300.0,
    )
    assert builder.population_sizes.get_list() == [8, 16]
    assert builder.max_populations.value == 3
    assert builder.seed.value == 7
    assert builder.max_concurrent_dft.value == 4  # the protocol's, not overridden
    assert builder.temperature_kelvin.value == 300.0
    assert builder.target_pressure_gpa.value == 5.0
    # merged with the protocol's Kong-Liu ratio; the bulk-modulus guess with a target pressure
    assert builder.minimizer_settings.get_dict() == {
        "kong_liu_ratio": 0.6,
        "meaningful_factor": 100.0,
        "bulk_modulus_gpa": 250.0,
    }
    assert builder.committee_size.value == 2
    assert builder.spread_threshold_ev_per_angstrom.value == pytest.approx(0.2)
    assert builder.max_validation_force_rmse_mev_per_angstrom.value == pytest.approx(80.0)
    assert builder.compute_hessian.value is False
    stiff = _build(
        codes,
        krb,
        "fast",
        overrides={"minimizer_settings": {"bulk_modulus_gpa": 400.0}},
        target_pressure_gpa=0.0,
    )
    assert stiff.minimizer_settings["bulk_modulus_gpa"] == 400.0
    assert stiff.target_pressure_gpa.value == 0.0


def test_bad_inputs(codes, krb):
    with pytest.raises(ValueError, match="unknown SSCHA override keys \\['populations'\\]"):
        _build(codes, krb, "fast", overrides={"populations": [2]})
    with pytest.raises(ValueError, match="engine must be one of"):
        _build(codes, krb, "fast", "quantum")
    with pytest.raises(ValueError, match="codes needs `sscha`"):
        _build({"pw": codes["pw"]}, krb, "fast")
    with pytest.raises(ValueError, match="mlp_model"):
        _build(codes, krb, "fast", "mlp")
    with pytest.raises(ValueError, match="codes\\['mlp'\\]"):
        _build({"sscha": codes["sscha"], "pw": codes["pw"]}, krb, "fast", "active")
    with pytest.raises(ValueError, match="energy_surface, kpoints_mesh"):
        _build(codes, krb, "fast", energy_surface=None, kpoints_mesh=None)
    with pytest.raises(ValueError, match="not a valid protocol"):
        _build(codes, krb, "ultrafast")


def _namespace(value):
    """Builder inputs as plain values, so two builders' unstored nodes can be compared."""
    if isinstance(value, ProcessBuilderNamespace | dict):
        return {key: _namespace(item) for key, item in value.items()}
    if isinstance(value, orm.Dict):
        return ("Dict", value.get_dict())
    if isinstance(value, orm.List):
        return ("List", value.get_list())
    if isinstance(value, orm.BaseType):
        return (type(value).__name__, value.value)
    if isinstance(value, orm.KpointsData):
        return ("mesh", value.get_kpoints_mesh())
    if isinstance(value, orm.Node):
        return (type(value).__name__, value.uuid)
    return value


def _harmonic_scf(harmonic):
    """The harmonic builder's scf namespace (``dfpt.scf``, or ``scf`` before the DFPT namespace)."""
    return harmonic.dfpt.scf if "scf" in harmonic.get("dfpt", {}) else harmonic.scf


def _harmonic_qpoints(harmonic):
    return harmonic.dfpt.ph.qpoints if "ph" in harmonic.get("dfpt", {}) else harmonic.ph.qpoints


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
@pytest.mark.parametrize("engine", ["dft", "active"])
def test_compound_sscha_namespace_is_the_sscha_protocol(qe_codes, codes, krb, protocol, engine):
    all_codes = {**qe_codes, **codes}
    overrides = {"sscha": {"seed": 3, "minimizer_settings": {"meaningful_factor": 0.5}}}
    compound = ClathrateSuperconductorWorkChain.get_builder_from_protocol(
        all_codes, krb, protocol, overrides=overrides, sscha_engine=engine
    )
    scf = _harmonic_scf(compound.harmonic)
    sscha = SschaWorkChain.get_builder_from_protocol(
        all_codes,
        krb,
        None,
        protocol,
        overrides=overrides["sscha"],
        engine=engine,
        energy_surface=scf.pw.parameters.get_dict()["SYSTEM"],
        kpoints_mesh=scf.kpoints.get_kpoints_mesh()[0],
        qpoints_mesh=_harmonic_qpoints(compound.harmonic).get_kpoints_mesh()[0],
    )
    expected = sscha._inputs(prune=True)
    for key in ("structure", "dynamical_matrices", "metadata"):
        expected.pop(key, None)
    assert _namespace(compound.sscha._inputs(prune=True)) == _namespace(expected)
    assert compound.sscha.seed.value == 3
    assert compound.sscha.minimizer_settings["kong_liu_ratio"] == 0.6


def _fake_harmonic(structure, matrices, prefix: str) -> orm.WorkflowNode:
    """A stored workflow node with a harmonic run's inputs (scf at ``prefix``) and outputs."""
    node = orm.WorkflowNode()
    parameters = orm.Dict({"SYSTEM": SYSTEM, "CONTROL": {"calculation": "scf"}}).store()
    kpoints = orm.KpointsData()
    kpoints.set_kpoints_mesh([8, 8, 8])
    node.base.links.add_incoming(parameters, LinkType.INPUT_WORK, f"{prefix}__pw__parameters")
    node.base.links.add_incoming(kpoints.store(), LinkType.INPUT_WORK, f"{prefix}__kpoints")
    node.base.links.add_incoming(orm.Float(12.0).store(), LinkType.INPUT_WORK, "pressure_gpa")
    node.store()
    for label, data in (("relaxed_structure", structure), ("dynamical_matrices", matrices)):
        data.store().base.links.add_incoming(node, LinkType.RETURN, label)
    return node


@pytest.mark.parametrize("prefix", ["dfpt__scf", "scf"])
def test_builder_on_a_harmonic_run(codes, krb, matrices, prefix):
    harmonic = _fake_harmonic(krb, matrices, prefix)
    system, mesh = harmonic_scf_settings(harmonic)
    assert system == SYSTEM and mesh == [8, 8, 8]
    builder = sscha_builder_on_harmonic(
        harmonic, "fast", "active", temperature_kelvin=100.0, relax_cell=True, codes=codes
    )
    assert builder.structure.pk == krb.pk
    assert builder.dynamical_matrices.pk == matrices.pk
    assert builder.dft.kpoints.get_kpoints_mesh()[0] == [8, 8, 8]  # q-mesh 1x1x1
    assert builder.dft.pw.parameters["SYSTEM"]["ecutwfc"] == 30.0
    assert builder.target_pressure_gpa.value == 12.0
    assert builder.minimizer_settings["bulk_modulus_gpa"] == 250.0
    assert builder.temperature_kelvin.value == 100.0
    assert builder.metadata.label == f"sscha {krb.get_formula()} 12 GPa active"
    assert builder.metadata.description == f"protocol=fast, harmonic<{harmonic.pk}>"
    fixed = sscha_builder_on_harmonic(harmonic, "fast", "dft", codes=codes)
    assert "target_pressure_gpa" not in fixed and "bulk_modulus_gpa" not in (
        fixed.minimizer_settings.get_dict()
    )


def test_harmonic_scf_settings_needs_the_scf_inputs(aiida_profile):
    with pytest.raises(ValueError, match="has no scf inputs"):
        harmonic_scf_settings(orm.WorkflowNode().store())


def _imported_modules(path: pathlib.Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import of a Python file, relative imports resolved."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    imports = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            imports.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{module}" if module else base
            imports.append((module, [alias.name for alias in node.names]))
    return imports


def _from_cli(module: str, names: list[str]) -> bool:
    return (
        module == "aiida_clathrate.cli"
        or module.startswith("aiida_clathrate.cli.")
        or (module == "aiida_clathrate" and "cli" in names)
    )


def test_nothing_outside_the_command_line_imports_from_it():
    """Builders and helpers live in the library; ``aiida_clathrate/cli`` only uses them. Tests
    may import the command itself (``cmd_root``); the command line's own tests (test_cli*.py)
    may import its modules."""
    offenders = []
    for folder in ("aiida_clathrate", "benchmarks", "examples", "scripts", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative.parts[:2] == ("aiida_clathrate", "cli"):
                continue
            for module, names in _imported_modules(path):
                if not _from_cli(module, names):
                    continue
                if folder == "tests" and (
                    path.name.startswith("test_cli")
                    or (module, names) == ("aiida_clathrate.cli", ["cmd_root"])
                ):
                    continue
                offenders.append(f"{relative}: from {module} import {', '.join(names)}")
    assert offenders == []
