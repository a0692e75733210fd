"""Running the deploys' own code without a host: a pyinfra state and host
context whose data is group_data/all.py's defaults plus what a test sets."""

import contextlib

import pytest
from pyinfra.api import Config, Inventory, State
from pyinfra.context import ctx_host, ctx_state

from tests.inventory import group_defaults


@pytest.fixture
def on_host():
    """on_host(**data): a context in which `pyinfra.host` is a host named box with that data."""
    @contextlib.contextmanager
    def context(**data):
        inventory = Inventory(([("box", {**group_defaults(), **data})], {}))
        with ctx_state.use(State(inventory, Config())), ctx_host.use(inventory.get_host("box")):
            yield inventory.get_host("box")
    return context
