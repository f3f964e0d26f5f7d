"""Shared pytest fixtures: a temporary AiiDA profile with SQLite storage and the ZeroMQ broker."""

from __future__ import annotations

import pathlib

import pytest

pytest_plugins = ["aiida.tools.pytest_fixtures"]

SHARED_DIR = pathlib.Path(__file__).resolve().parents[1].parent / "shared"


def pytest_configure(config) -> None:
    """The test process trains and evaluates potentials in-process and then ends: keep freed
    memory for reuse, as the console script does (``aiida_clathrate.mlp.allocator``)."""
    from aiida_clathrate.mlp.allocator import keep_freed_memory

    keep_freed_memory()


@pytest.fixture(scope="session")
def aiida_profile(aiida_config, aiida_profile_factory):
    """The embedded default: SQLite storage and the ZeroMQ broker (so the daemon and ``submit`` work)."""
    with aiida_profile_factory(
        aiida_config, storage_backend="core.sqlite_dos", broker_backend="core.zeromq"
    ) as profile:
        yield profile


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
    """The read-only ``shared/`` folder beside the clone (data sets, pseudopotentials)."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"shared folder not found at {SHARED_DIR}")
    return SHARED_DIR


@pytest.fixture(scope="session")
def clathrate_setup(aiida_profile):
    """Computer, codes and the shipped pseudopotential family in the test profile (what ``setup`` makes)."""
    from aiida_clathrate.localhost import setup_localhost

    return setup_localhost()


@pytest.fixture(scope="session")
def qe_codes(clathrate_setup) -> dict[str, str]:
    """Labels of the Quantum ESPRESSO codes on localhost."""
    return {name: f"{name}@localhost" for name in ("pw", "ph", "q2r", "matdyn")}


@pytest.fixture
def aluminium():
    """fcc Al (one atom): the cheapest real metal for end-to-end Quantum ESPRESSO tests."""
    from aiida import orm
    from ase.build import bulk

    return orm.StructureData(ase=bulk("Al", "fcc", a=4.05))


#: Tiny settings for the full harmonic pipeline on fcc Al (seconds per step on two cores).
TINY_HARMONIC_OVERRIDES = {
    "kpoints_mesh": [4, 4, 4],
    "qpoints_mesh": [2, 2, 2],
    "dos_qpoints_mesh": [6, 6, 6],
    "bands_npoints": 40,
}


#: Tiny ElectronPhononWorkChain settings for fcc Al (seconds per step): scf 4x4x4, la2F 8x8x8, q 2x2x2.
TINY_EPC_OVERRIDES = {
    "kpoints_mesh": [4, 4, 4],
    "dense_kpoints_mesh": [8, 8, 8],
    "qpoints_mesh": [2, 2, 2],
    "dos_qpoints_mesh": [8, 8, 8],
    "ndos": 60,
    "degauss_ry": 0.05,
    "el_ph_sigma_ry": 0.01,
    "eliashberg_settings": {"gap_curve_points": 4},
}


@pytest.fixture
def tiny_harmonic_overrides() -> dict:
    import copy

    return copy.deepcopy(TINY_HARMONIC_OVERRIDES)


@pytest.fixture(scope="session")
def daemon_client(aiida_profile):
    """aiida's daemon client fixture with a longer timeout: two loaded cores can be slow to answer."""
    from aiida.engine.daemon import get_daemon_client
    from aiida.engine.daemon.client import DaemonNotRunningException
    from aiida.manage import get_config

    get_config().set_option("daemon.timeout", 60, scope=aiida_profile.name)
    client = get_daemon_client(aiida_profile.name)
    try:
        yield client
    finally:
        try:
            client.stop_daemon(wait=True)
        except DaemonNotRunningException:
            pass


@pytest.fixture(autouse=True)
def _process_reports_go_to_the_database(aiida_profile):
    """Keep the database log handler on: a CLI call through click's runner reconfigures logging for the
    terminal only, after which ``self.report`` messages of processes run in this interpreter are lost.
    Set again after each test too: a module-scoped fixture that runs a process is set up before the
    next module's first test, before this fixture (seen: a harmonic run after test_epc_qe had no
    report)."""
    from aiida.common.log import configure_logging

    configure_logging(with_orm=True)
    yield
    configure_logging(with_orm=True)
