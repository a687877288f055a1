"""Session-wide fixtures for every test folder (tests/ is on sys.path: see pytest's pythonpath in pyproject)."""

import pytest
from azurite.fixture import azurite, blob_container
from kqlparser.fixture import kql_parser

from bench.faces import Face

__all__ = ["azurite", "blob_container", "face", "kql_parser"]
pytest_plugins = ["pytester"]  # tests/plugin runs users' test files through the m365sentinel plugin


@pytest.fixture(params=["sync", "async"])
def face(request):
    """The face under test (see bench/faces.py): a test taking it runs once per face, with the same body."""
    f = Face(request.param)
    yield f
    f.close()
