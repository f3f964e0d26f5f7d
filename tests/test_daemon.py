"""Submit a workchain to a running daemon on the ZeroMQ-broker profile and wait for it."""

from __future__ import annotations

import pytest
from aiida import orm

from aiida_clathrate.workflows.harmonic import HarmonicPhononWorkChain

pytestmark = [pytest.mark.qe, pytest.mark.daemon]


def test_submit_harmonic_to_daemon(
    aiida_profile, qe_codes, aluminium, tiny_harmonic_overrides, submit_and_await
):
    assert aiida_profile.process_control_backend == "core.zeromq"
    builder = HarmonicPhononWorkChain.get_builder_from_protocol(
        qe_codes, aluminium, "fast", overrides=tiny_harmonic_overrides, relax=False
    )
    node = submit_and_await(builder, timeout=600)
    assert node.is_finished_ok, node.exit_message
    assert isinstance(node.outputs.dynamically_stable, orm.Bool)
    # relax skipped: the relaxed structure is the input structure
    assert node.outputs.relaxed_structure.uuid == aluminium.uuid
