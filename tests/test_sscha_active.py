"""The ``active`` engine of ``SschaWorkChain``: DFT first, then a committee MLP that sends the
configurations it is unsure of (with their ± partner) to DFT, with retraining."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

from aiida_clathrate.workflows.sscha import dft_runs

sys.path.insert(0, str(pathlib.Path(__file__).parent))

#: A small committee for a 2-atom cell (seconds to train).
TINY_TRAINING = {
    "radial_order": 4,
    "angular_order": 3,
    "radial_cutoff_angstrom": 4.5,
    "angular_cutoff_angstrom": 3.6,
    "token_dim": 8,
    "n_heads": 2,
    "hidden": [16],
    "max_epochs": 15,
    # the potential before message passing, float32 training and the stage-two fine-tune:
    # these tests are about the engine, and their thresholds were set with this toy committee
    "finetune_epochs": 0,
    "message_layers": 0,
    "learning_rate": 3e-3,
    "dtype": "float64",
    "batch_size": 4,
    "seed": 3,
}
#: Between the median (0.0155) and largest (0.0206 eV/Å) force spreads seen in population 2.
SPREAD_THRESHOLD_EV_PER_ANGSTROM = 0.017
#: The default threshold instead: this factor x the committee's spread on its training data.
SPREAD_THRESHOLD_FACTOR = 3.0
#: Validation force RMSE limits (meV/Å): one no toy committee misses, one every committee misses.
LOOSE_LIMIT_MEV_PER_ANGSTROM, STRICT_LIMIT_MEV_PER_ANGSTROM = 1e6, 1e-6


def test_configurations_for_dft_keeps_pairs_together():
    from aiida_clathrate.workflows.sscha import configurations_for_dft

    assert configurations_for_dft([0.01, 0.02, 0.3, 0.01], 0.1) == [2, 3]
    assert configurations_for_dft([0.2, 0.01, 0.01, 0.01, 0.01, 0.5], 0.1) == [0, 1, 4, 5]
    assert configurations_for_dft([0.01, 0.01], 0.1) == []
    assert configurations_for_dft([np.nan, 0.0], 0.1) == [0, 1]
    with pytest.raises(ValueError, match="even number"):
        configurations_for_dft([0.1, 0.2, 0.3], 0.1)
    with pytest.raises(ValueError, match="threshold"):
        configurations_for_dft([0.1, 0.2], -1.0)


def test_spread_threshold_and_accuracy_verdict():
    from aiida_clathrate.workflows.sscha import committee_is_accurate, resolve_spread_threshold

    reference = {"median_ev_per_angstrom": 0.05, "n_configurations": 170}
    assert resolve_spread_threshold(0.3, 2.0, reference) == (0.3, "absolute")
    assert resolve_spread_threshold(0.3, 2.0, None) == (0.3, "absolute")
    threshold, source = resolve_spread_threshold(None, 3.0, reference)
    assert threshold == pytest.approx(0.15)
    assert "3 x 0.0500, the median on the committee's 170 training" in source
    with pytest.raises(ValueError, match="no committee spread reference"):
        resolve_spread_threshold(None, 2.0, {})

    validation = {"validation": {"forces_rmse_mev_per_angstrom": 53.1, "n_configurations": 43}}
    assert committee_is_accurate(validation, 60.0) == (
        True,
        "validation force RMSE 53.1 meV/A on 43 held-out configurations, within the limit 60 meV/A",
    )
    accurate, verdict = committee_is_accurate(validation, 50.0)
    assert not accurate and "above the limit 50 meV/A" in verdict
    assert committee_is_accurate({"validation": {}}, 50.0) == (
        False,
        "no validation force error (no held-out configurations)",
    )
    assert not committee_is_accurate({}, 50.0)[0]


def test_active_engine_needs_its_codes(aiida_profile, aiida_code_installed):
    from aiida import orm
    from aiida.engine import run_get_node
    from ase import Atoms
    from test_sscha_kernel import spring_force_constants

    from aiida_clathrate.data.dynamical_matrices import from_phonons
    from aiida_clathrate.sscha.dynamical_matrix import phonons_from_force_constants
    from aiida_clathrate.workflows.sscha import SschaWorkChain

    atoms = Atoms("Al2", positions=[[0, 0, 0], [1.62] * 3], cell=np.eye(3) * 3.24, pbc=True)
    folder = from_phonons(phonons_from_force_constants(atoms, spring_force_constants(2.0))).store()
    code = aiida_code_installed(
        default_calc_job_plugin="clathrate.sscha.minimize", filepath_executable="/bin/true"
    )
    with pytest.raises(ValueError, match="engine `active` needs the `dft`"):
        run_get_node(
            SschaWorkChain,
            dynamical_matrices=folder,
            engine=orm.Str("active"),
            minimize={"code": code},
        )


def _al2_dft_inputs(qe_codes):
    """PwBaseWorkChain inputs of the dft-engine test (2-atom Al, 15 Ry, 2x2x2 k, serial)."""
    from aiida import orm
    from aiida_quantumespresso.common.types import ElectronicType
    from aiida_quantumespresso.workflows.pw.base import PwBaseWorkChain
    from ase import Atoms

    from aiida_clathrate.pseudo_family import SHIPPED_FAMILY_LABEL

    atoms = Atoms("Al2", positions=[[0, 0, 0], [1.62] * 3], cell=np.eye(3) * 3.24, pbc=True)
    pw = PwBaseWorkChain.get_builder_from_protocol(
        orm.load_code(qe_codes["pw"]),
        orm.StructureData(ase=atoms),
        "fast",
        overrides={
            "pseudo_family": SHIPPED_FAMILY_LABEL,
            "pw": {
                "parameters": {
                    "CONTROL": {"tprnfor": True, "tstress": True},
                    "SYSTEM": {"ecutwfc": 15.0, "ecutrho": 60.0, "nbnd": 12},
                },
                "metadata": {
                    "options": {
                        "resources": {"num_machines": 1, "num_mpiprocs_per_machine": 1},
                        "withmpi": False,
                    }
                },
            },
        },
        electronic_type=ElectronicType.METAL,
    )
    inputs = pw._inputs(prune=True)
    inputs["pw"].pop("structure")
    inputs.pop("clean_workdir", None)
    inputs.pop("kpoints_distance", None)
    kpoints = orm.KpointsData()
    kpoints.set_kpoints_mesh([2, 2, 2])
    inputs["kpoints"] = kpoints
    return atoms, inputs


@pytest.mark.qe
@pytest.mark.slow
@pytest.mark.parametrize("threshold_kind", ["absolute", "factor", "inaccurate"])
def test_sscha_workchain_active_engine_with_pw(
    aiida_profile, clathrate_setup, qe_codes, threshold_kind
):
    """Population 1 with pw.x (8 configurations: each member holds out one ± pair), then two MLP populations of 6: the committee
    spread decides which pairs go to DFT, their labels replace the MLP ones, retraining follows.
    The threshold is absolute, or (the default) a factor times the committee's spread reference;
    ``inaccurate``: a committee above the validation-error limit labels nothing (all DFT)."""
    import torch
    from aiida import orm
    from aiida.engine import run_get_node
    from test_sscha_kernel import spring_force_constants

    from aiida_clathrate.data.dynamical_matrices import from_phonons
    from aiida_clathrate.mlp.uncertainty import spread_threshold_ev_per_angstrom
    from aiida_clathrate.sscha.dynamical_matrix import phonons_from_force_constants
    from aiida_clathrate.workflows.sscha import SschaWorkChain, configurations_for_dft

    torch.set_num_threads(1)
    limit = LOOSE_LIMIT_MEV_PER_ANGSTROM
    if threshold_kind == "absolute":
        threshold = {
            "spread_threshold_ev_per_angstrom": orm.Float(SPREAD_THRESHOLD_EV_PER_ANGSTROM)
        }
    else:
        threshold = {"spread_threshold_factor": orm.Float(SPREAD_THRESHOLD_FACTOR)}
        if threshold_kind == "inaccurate":
            limit = STRICT_LIMIT_MEV_PER_ANGSTROM
    threshold["max_validation_force_rmse_mev_per_angstrom"] = orm.Float(limit)
    atoms, dft_inputs = _al2_dft_inputs(qe_codes)
    matrices = from_phonons(phonons_from_force_constants(atoms, spring_force_constants(2.0)))
    mlp_code = orm.load_code("clathrate-mlp@localhost")
    results, node = run_get_node(
        SschaWorkChain,
        dynamical_matrices=matrices.store(),
        engine=orm.Str("active"),
        population_sizes=orm.List([8, 6]),
        max_populations=orm.Int(3),
        seed=orm.Int(7),
        # a strict Kong-Liu ratio and gradient rule: three populations whatever the noise
        minimizer_settings=orm.Dict({"kong_liu_ratio": 0.999, "meaningful_factor": 1e-12}),
        compute_hessian=orm.Bool(False),
        n_dft_populations=orm.Int(1),
        **threshold,
        committee_size=orm.Int(2),
        max_concurrent_dft=orm.Int(4),
        dft=dft_inputs,
        mlp={"code": mlp_code},
        train={"code": mlp_code, "parameters": orm.Dict(TINY_TRAINING)},
        minimize={"code": orm.load_code("clathrate-sscha@localhost")},
    )
    assert node.is_finished_ok, node.exit_status
    table = results["populations"]
    n_configurations = table.get_array("n_configurations")
    n_dft = table.get_array("n_dft")
    np.testing.assert_array_equal(n_configurations, [8, 6, 6])
    assert n_dft[0] == 8  # the first population is all DFT

    evaluations = sorted(
        (n for n in node.called_descendants if n.process_label == "MlpEvaluateCalculation"),
        key=lambda n: n.pk,
    )
    trainings = [n for n in node.called_descendants if n.process_label == "MlpTrainCalculation"]
    pw_runs = list(dft_runs(node).values())
    reports = [log.message for log in orm.Log.collection.get_logs_for(node)]
    if threshold_kind == "inaccurate":
        # both committees missed the limit: populations 2 and 3 ran with DFT, no evaluation
        assert not evaluations
        np.testing.assert_array_equal(n_dft, [8, 6, 6])
        assert len(pw_runs) == 20 and len(trainings) == 2
        for train, population in zip(sorted(trainings, key=lambda n: n.pk), (2, 3), strict=True):
            metrics = train.outputs.metrics.get_dict()
            assert metrics["settings"]["split_block_frames"] == 2  # ± pairs held out whole
            rmse = metrics["metrics"]["validation"]["forces_rmse_mev_per_angstrom"]
            assert rmse > STRICT_LIMIT_MEV_PER_ANGSTROM
            assert any(
                f"validation force RMSE {rmse:.1f} meV/A" in m
                and f"above the limit {STRICT_LIMIT_MEV_PER_ANGSTROM:g}" in m
                and f"population {population} runs with DFT" in m
                for m in reports
            )
        for p, count in enumerate((8, 6, 6), start=1):
            assert any(
                f"population {p}: {count} configurations ({count} DFT)" in m for m in reports
            )
        return
    assert len(evaluations) == 2  # populations 2 and 3 ran with the MLP
    assert sum("within the limit" in m for m in reports) == len(trainings)
    expected = [8]
    for calc in evaluations:
        spread = calc.outputs.committee_spread.get_array("max_force_std_ev_per_angstrom")
        assert calc.inputs.model.base.attributes.get("committee_size") == 2
        reference = calc.inputs.model.spread_reference
        # trained on every DFT configuration so far
        assert reference["n_configurations"] == int(n_dft[: len(expected)].sum())
        if threshold_kind == "absolute":
            limit = SPREAD_THRESHOLD_EV_PER_ANGSTROM
        else:
            limit = spread_threshold_ev_per_angstrom(reference, SPREAD_THRESHOLD_FACTOR)
        expected.append(len(configurations_for_dft(spread, limit)))
    print(f"\nactive engine: DFT per population {n_dft.tolist()}, trainings {len(trainings)}")
    np.testing.assert_array_equal(n_dft, expected)
    assert len(pw_runs) == int(n_dft.sum())
    # one training after the DFT population, one more after each MLP population that used DFT
    assert len(trainings) == 1 + int(np.count_nonzero(n_dft[1:2]))
    # the MLP labelled at least one configuration that entered a minimisation
    assert int(np.sum(n_configurations[1:] - n_dft[1:])) > 0

    # the report states the DFT count of every population
    for p, (size, count) in enumerate(zip(n_configurations, n_dft, strict=True), start=1):
        assert any(f"population {p}: {size} configurations ({count} DFT)" in m for m in reports)
    source = "absolute" if threshold_kind == "absolute" else "the median on the committee's"
    assert sum(source in m for m in reports) == len(evaluations)

    # DFT labels replaced the MLP ones of the configurations sent to DFT in population 2
    if n_dft[1]:
        links = node.base.links.get_outgoing().all()
        dft_2 = {
            int(label.rsplit("_", 1)[1]): run
            for label, run in dft_runs(node).items()
            if label.startswith("dft_2_")
        }
        minimize_2 = next(link.node for link in links if link.link_label == "minimize_2")
        ensemble = minimize_2.inputs.sscha.ensemble
        assert sorted(dft_2) == ensemble.base.attributes.get("dft_indices")
        energies = ensemble.get_array("energies_ev")
        for i, pw_node in dft_2.items():
            assert energies[i] == pytest.approx(pw_node.outputs.output_parameters["energy"])
