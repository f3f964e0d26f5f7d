"""A snapshot of stored nodes (attributes, extras, repository hash), their links and groups, taken
the same way in the test profile and, after an archive import, in a fresh one."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

SNAPSHOT_SOURCE = '''
import json
from aiida import orm


def snapshot(uuids=None):
    """Every node (or those in ``uuids``) with its type, attributes, extras and repository hash;
    the links between them; the groups with their members among them. aiida-core's own extras
    (``_aiida_hash``, the caching hash: recomputed by the importing profile, not carried) are left
    out."""
    rows = orm.QueryBuilder().append(orm.Node, project=["uuid"]).all(flat=True)
    keep = set(rows) if uuids is None else set(uuids) & set(rows)
    nodes = {}
    for uuid in keep:
        node = orm.load_node(uuid)
        nodes[uuid] = {
            "node_type": node.node_type,
            "attributes": json.loads(json.dumps(node.base.attributes.all, sort_keys=True, default=str)),
            "extras": json.loads(json.dumps(
                {k: v for k, v in node.base.extras.all.items() if not k.startswith("_aiida_")},
                sort_keys=True, default=str,
            )),
            "repository": node.base.repository.hash(),
            "files": sorted(node.base.repository.list_object_names()),
        }
    query = orm.QueryBuilder()
    query.append(orm.Node, tag="source", project=["uuid"])
    query.append(orm.Node, with_incoming="source", edge_project=["type", "label"], project=["uuid"])
    links = sorted(
        [source, target, kind, label]
        for source, kind, label, target in (
            (row[0], row[2], row[3], row[1]) for row in query.all()
        )
        if source in keep and target in keep
    )
    groups = {}
    for group in orm.Group.collection.all():
        if group.type_string == "core.import":  # made by the import itself
            continue
        members = sorted(n.uuid for n in group.nodes if n.uuid in keep)
        if members:
            groups[group.label] = members
    return {"nodes": nodes, "links": links, "groups": groups}
'''

#: Python that makes and loads an empty SQLite profile "fresh" in the folder ``sys.argv[2]`` (run
#: in a subprocess whose AIIDA_PATH is that folder).
FRESH_PROFILE_SOURCE = """
import pathlib, sys
from aiida import orm
from aiida.manage.configuration import create_profile, get_config, load_profile

root = pathlib.Path(sys.argv[2])
config = get_config(create=True)
create_profile(config, storage_backend="core.sqlite_dos",
    storage_config={"filepath": str(root / "storage")}, name="fresh", email="fresh@localhost")
config.set_default_profile("fresh")
config.store()
load_profile("fresh")
assert orm.QueryBuilder().append(orm.Node).count() == 0
"""

IMPORT_SOURCE = (
    SNAPSHOT_SOURCE
    + FRESH_PROFILE_SOURCE
    + """
from aiida.tools.archive import import_archive

import_archive(sys.argv[1])
print("RESULT" + json.dumps(snapshot()))
"""
)


def snapshot(uuids=None) -> dict:
    """:func:`snapshot` of ``SNAPSHOT_SOURCE`` in this interpreter's profile."""
    namespace: dict = {}
    exec(SNAPSHOT_SOURCE, namespace)  # noqa: S102 - the same code runs in the fresh profile
    return namespace["snapshot"](uuids)


def import_snapshot(archive: pathlib.Path, root: pathlib.Path) -> dict:
    """Import ``archive`` into a fresh SQLite profile under ``root`` (a subprocess with its own
    AIIDA_PATH) and return the snapshot of everything that arrived."""
    root.mkdir()
    return run_in_fresh_profile(IMPORT_SOURCE, [str(archive), str(root)], root, timeout=600)


def run_in_fresh_profile(source: str, args: list[str], root: pathlib.Path, timeout: float):
    """Run ``source`` with ``args`` in a subprocess whose AIIDA_PATH is ``root`` (a configuration
    of its own) and return the JSON that follows its last ``RESULT`` line."""
    done = subprocess.run(
        [sys.executable, "-c", source, *args],
        env=dict(os.environ, AIIDA_PATH=str(root)),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = [row for row in done.stdout.splitlines() if row.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT") :])
