"""deploys/lib/fact_cache.py on this machine's own files (pyinfra's @local
connector): the announced facts come back in one round trip with the values
pyinfra reads one at a time, and an operation that changed the host makes
everything be read again."""

from collections import defaultdict
from types import SimpleNamespace

import pytest
from pyinfra.api import Config, Inventory, State
from pyinfra.api.connect import connect_all
from pyinfra.api.facts import get_fact
from pyinfra.api.host import Host
from pyinfra.context import ctx_host, ctx_state
from pyinfra.facts.files import Directory, File, Sha1File

from deploys.lib import fact_cache


@pytest.fixture
def local(monkeypatch):
    """(host, commands): the @local host with the cache installed (undone
    afterwards), and the commands run on it from here on."""
    monkeypatch.setattr(Host, "get_fact", Host.get_fact)
    for module, names, _ in fact_cache.ANNOUNCING:
        for name in names:
            monkeypatch.setattr(module, name, getattr(module, name))
    monkeypatch.setattr(fact_cache, "_hosts", defaultdict(fact_cache._HostFacts))
    inventory = Inventory((["@local"], {}))
    state = State(inventory, Config())
    connect_all(state)
    host = inventory.get_host("@local")
    commands = []
    run = Host.run_shell_command

    def recorded(self, *args, **kwargs):
        commands.append(str(kwargs.get("command", args[0] if args else "")))
        return run(self, *args, **kwargs)
    monkeypatch.setattr(Host, "run_shell_command", recorded)
    with ctx_state.use(state), ctx_host.use(host):
        fact_cache.install(state)
        yield host, commands


def test_announced_facts_are_read_in_one_round_trip_as_pyinfra_reads_them(local, tmp_path):
    host, commands = local
    (tmp_path / "a.conf").write_text("a\n")
    wanted = [(File, {"path": str(tmp_path / "a.conf")}), (Sha1File, {"path": str(tmp_path / "a.conf")}),
              (File, {"path": str(tmp_path / "missing")}), (Directory, {"path": str(tmp_path)})]
    fact_cache.announce(wanted)
    cached = [host.get_fact(cls, **arguments) for cls, arguments in wanted]
    assert len(commands) == 1, commands
    assert [host.get_fact(cls, **arguments) for cls, arguments in wanted] == cached
    assert len(commands) == 1, "a fact already read was read again"
    assert cached == [get_fact(host.state, host, cls, args=(), kwargs=arguments) for cls, arguments in wanted]
    assert cached[2] is None and cached[1] == "3f786850e387550fdab836ed7e6dc881de23001b"  # sha1 of "a\n"


def test_a_fact_not_announced_is_read_on_its_own(local, tmp_path):
    host, commands = local
    fact_cache.announce([(File, {"path": str(tmp_path / "other.conf")})])
    assert host.get_fact(Directory, path=str(tmp_path))["mode"] == int(oct(tmp_path.stat().st_mode & 0o777)[2:])
    assert len(commands) == 1 and "other.conf" not in commands[0]


@pytest.mark.parametrize("changed, succeeded, forgotten", [(True, True, True), (False, False, True),
                                                           (False, True, False)])
def test_what_was_read_is_forgotten_after_an_operation_that_changed_or_failed(local, tmp_path, changed, succeeded,
                                                                              forgotten):
    host, commands = local
    path = tmp_path / "f"
    path.write_text("one")
    before = host.get_fact(Sha1File, path=str(path))
    path.write_text("two")  # what the operation did
    meta = SimpleNamespace(is_complete=lambda: True, did_change=lambda: changed, did_succeed=lambda: succeeded)
    state = SimpleNamespace(get_op_data_for_host=lambda *_: SimpleNamespace(operation_meta=meta))
    fact_cache._ForgetOnChange.operation_host_start(state, host, "first op")
    fact_cache._ForgetOnChange.operation_host_start(state, host, "second op")
    assert (host.get_fact(Sha1File, path=str(path)) != before) is forgotten
