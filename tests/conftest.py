"""Session-wide fixtures for every test folder (tests/ is on sys.path: see pytest's pythonpath in pyproject)."""

from azurite.fixture import azurite, blob_container
from kqlparser.fixture import kql_parser

__all__ = ["azurite", "blob_container", "kql_parser"]
