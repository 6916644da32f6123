"""Fixtures shared by the provider tests: the fake vendor server, its keys in the environment, no figures.

A test module uses them with ``pytest_plugins = ["provider_fixtures"]`` and, to skip figures,
``pytestmark = pytest.mark.usefixtures("no_figures")``. A plugin's fixtures are visible to every test
of the session, so none of them may be autouse: an autouse one would switch figures off for all
the tests collected after a provider module.
"""

from __future__ import annotations

import pytest
from fake_provider_server import KEYS, FakeProviderServer, use_fake_keys


@pytest.fixture(scope="module")
def server():
    """The fake server speaking every vendor's protocol on 127.0.0.1 (one per test module)."""
    srv = FakeProviderServer(KEYS).start()
    yield srv
    srv.stop()


@pytest.fixture
def no_figures(monkeypatch):
    """Figures cost ~0.3 s per clip and test nothing about providers: skip them here."""
    monkeypatch.setattr("workbench.pipeline.write_figures", lambda *a, **k: None)


@pytest.fixture
def keys(monkeypatch, server):
    """The fake credentials in the environment (and nothing a real key could be mistaken for)."""
    return use_fake_keys(monkeypatch, server)
