"""``DfptWorkChain`` on fcc Al with real pw.x/ph.x/q2r.x/matdyn.x: the irreducible q-points of a
2x2x2 mesh as separate ph.x jobs give the dynamical and gamma matrices of one ph.x run."""

from __future__ import annotations

import re

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from conftest import TINY_EPC_OVERRIDES

from aiida_clathrate.pseudo_family import SHIPPED_FAMILY_LABEL
from aiida_clathrate.workflows.dfpt import DfptWorkChain, dfpt_inputs
from aiida_clathrate.workflows.epc import ElectronPhononWorkChain

NUMBER = re.compile(r"[-+]?\d+\.\d*(?:[EeDd][-+]?\d+)?")


def _numbers(text: str) -> np.ndarray:
    """Every floating-point number of a ph.x text file after its first line."""
    body = text.split("\n", 1)[1]
    return np.array([float(x.replace("D", "E")) for x in NUMBER.findall(body)])


def _inputs(qe_codes, structure, electron_phonon=True, num_mpiprocs=1, **extra):
    settings = ElectronPhononWorkChain.get_protocol_inputs("fast", TINY_EPC_OVERRIDES)
    settings["bands_npoints"] = 20
    codes = {key: orm.load_code(label) for key, label in qe_codes.items()}
    inputs = dfpt_inputs(
        codes,
        structure,
        "fast",
        settings,
        SHIPPED_FAMILY_LABEL,
        num_mpiprocs=num_mpiprocs,
        electron_phonon=electron_phonon,
        matdyn_la2f=electron_phonon,
    )
    inputs.update(extra)
    return inputs


@pytest.fixture(scope="module")
def dfpt_al(aiida_profile, qe_codes):
    from ase.build import bulk

    structure = orm.StructureData(ase=bulk("Al", "fcc", a=4.05))
    _, split = run_get_node(
        DfptWorkChain,
        structure=structure,
        **_inputs(qe_codes, structure, max_concurrent_qpoints=orm.Int(2)),
    )
    _, single = run_get_node(
        DfptWorkChain,
        structure=structure,
        **_inputs(qe_codes, structure, split_qpoints=orm.Bool(False)),
    )
    return split, single


def _ph_jobs(node) -> list[orm.WorkflowNode]:
    return [
        child
        for child in node.called
        if child.base.attributes.get("process_label") == "PhBaseWorkChain"
    ]


def _call_label(node) -> str:
    from aiida.common.links import LinkType

    return node.base.links.get_incoming(link_type=LinkType.CALL_WORK).one().link_label


def test_both_finish_with_all_outputs(dfpt_al):
    for node in dfpt_al:
        assert node.is_finished_ok, node.exit_message
        for name in (
            "dynamical_matrices",
            "force_constants",
            "phonon_bands",
            "alpha2f_files",
            "linewidth_files",
            "elph_folder",
        ):
            assert name in node.outputs, name


def test_qpoints_ran_as_separate_jobs(dfpt_al):
    split, single = dfpt_al
    labels = sorted(_call_label(child) for child in _ph_jobs(split))
    assert labels == ["ph_init", "ph_q_1", "ph_q_2", "ph_q_3"]
    assert [_call_label(job) for job in _ph_jobs(single)] == ["ph"]
    for job in _ph_jobs(split):
        inputph = job.inputs.ph.parameters.get_dict()["INPUTPH"]
        label = _call_label(job)
        if label == "ph_init":
            assert inputph["start_irr"] == inputph["last_irr"] == 0
        else:
            assert inputph["start_q"] == inputph["last_q"] == int(label.rsplit("_", 1)[1])
    report = "\n".join(log.message for log in orm.Log.collection.get_logs_for(split))
    assert "3 irreducible q-points: one ph.x job each, at most 2 at a time" in report


def test_gathered_dynamical_matrices_equal_one_ph_run(dfpt_al):
    split, single = dfpt_al
    a, b = split.outputs.dynamical_matrices, single.outputs.dynamical_matrices
    assert a.base.attributes.get("nqirr") == b.base.attributes.get("nqirr") == 3
    assert a.base.attributes.get("qpoints_mesh") == [2, 2, 2]
    for index in range(4):
        text_a = a.base.repository.get_object_content(f"dyn{index}")
        text_b = b.base.repository.get_object_content(f"dyn{index}")
        if index == 0:
            assert text_a == text_b
            continue
        x, y = _numbers(text_a), _numbers(text_b)
        assert x.shape == y.shape
        # ph.x's own reproducibility between runs: 8e-5 of the largest element measured at q = X.
        assert np.max(np.abs(x - y)) <= 1e-3 * np.max(np.abs(y))


def test_gathered_gamma_matrices_equal_one_ph_run(dfpt_al):
    """Bit-identical at Gamma and L; at X the separate job's gamma matrices differ from the
    single run's by up to 18 % at the narrowest broadening (0.01 Ry) and 2 % at 0.1 Ry: ph.x
    computes X after the other q-points in one run and first in its own job (docs/dfpt.md)."""
    split, single = dfpt_al
    gathered = next(
        child.outputs.result
        for child in split.called
        if child.base.attributes.get("process_label") == "gather_qpoint_outputs"
    )
    retrieved = next(
        job.outputs.retrieved
        for job in _ph_jobs(single)[0].called
        if isinstance(job, orm.CalcJobNode)
    )
    names = retrieved.base.repository.list_object_names("elph_dir")
    assert len(names) == 33  # 10 broadenings x 3 q-points + 3 lambda files
    assert sorted(gathered.base.repository.list_object_names("elph_dir")) == sorted(names)
    for name in names:
        if not name.startswith("a2Fq2r"):
            continue
        x = gathered.base.repository.get_object_content(f"elph_dir/{name}")
        y = retrieved.base.repository.get_object_content(f"elph_dir/{name}")
        if not name.endswith(".3"):
            assert x == y, name
        elif name == "a2Fq2r.60.3":
            a, b = _numbers(x), _numbers(y)
            assert np.max(np.abs(a - b)) <= 0.03 * np.max(np.abs(b))


def test_lambda_agrees(dfpt_al):
    def lambdas(node):
        text = node.outputs.alpha2f_files.base.repository.get_object_content("lambda")
        rows = [line.split() for line in text.splitlines() if "Broadening" in line]
        return np.array([float(row[3]) for row in rows])

    split, single = dfpt_al
    lambda_split, lambda_single = lambdas(split), lambdas(single)
    assert len(lambda_split) == 10
    # broadenings >= 0.05 Ry, where lambda has settled (0.476 -> 0.460 here)
    np.testing.assert_allclose(lambda_split[4:], lambda_single[4:], rtol=0.025)


@pytest.fixture(scope="module")
def dfpt_al_two_processes(aiida_profile, qe_codes):
    """Phonons only, 2 MPI processes, q-points 2 at a time on the direct scheduler."""
    from ase.build import bulk

    structure = orm.StructureData(ase=bulk("Al", "fcc", a=4.05))
    _, node = run_get_node(
        DfptWorkChain,
        structure=structure,
        **_inputs(
            qe_codes,
            structure,
            electron_phonon=False,
            num_mpiprocs=2,
            max_concurrent_qpoints=orm.Int(2),
        ),
    )
    return node


def test_concurrent_qpoints_share_the_cores_and_ph_gets_pools(dfpt_al, dfpt_al_two_processes):
    """Jobs launched together on one machine split its processes (no mpirun for one process);
    a ph.x job on 2 processes gets 2 k-point pools; the matrices stay those of one ph.x run."""
    node = dfpt_al_two_processes
    assert node.is_finished_ok, node.exit_message
    parallel = {}
    for job in _ph_jobs(node):
        calc = next(child for child in job.called if isinstance(child, orm.CalcJobNode))
        options = calc.get_options()
        settings = calc.inputs.settings.get_dict() if "settings" in calc.inputs else {}
        parallel[_call_label(job)] = (
            options["resources"]["num_mpiprocs_per_machine"],
            options["withmpi"],
            settings.get("CMDLINE", []),
        )
    assert parallel == {
        "ph_init": (2, True, ["-nk", "2"]),
        "ph_q_1": (1, False, []),  # launched with q_2: one process each
        "ph_q_2": (1, False, []),
        "ph_q_3": (2, True, ["-nk", "2"]),  # alone in its batch
    }
    report = "\n".join(log.message for log in orm.Log.collection.get_logs_for(node))
    assert "(1 MPI process each)" in report and "(2 MPI processes -nk 2 each)" in report
    single = dfpt_al[1]
    for index in range(1, 4):
        x = _numbers(
            node.outputs.dynamical_matrices.base.repository.get_object_content(f"dyn{index}")
        )
        y = _numbers(
            single.outputs.dynamical_matrices.base.repository.get_object_content(f"dyn{index}")
        )
        assert np.max(np.abs(x - y)) <= 1e-3 * np.max(np.abs(y))
