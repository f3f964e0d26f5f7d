"""Shared pytest fixtures: a temporary AiiDA profile with SQLite storage and the ZeroMQ broker."""

from __future__ import annotations

import pathlib

import pytest

pytest_plugins = ["aiida.tools.pytest_fixtures"]

SHARED_DIR = pathlib.Path(__file__).resolve().parents[1].parent / "shared"


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
