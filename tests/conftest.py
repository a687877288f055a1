"""Session-wide fixtures for every test folder (tests/ is on sys.path: see pytest's pythonpath in pyproject)."""

from kqlparser.fixture import kql_parser

__all__ = ["kql_parser"]
pytest_plugins = ["pytester"]  # tests/plugin runs users' test files through the m365sentinel plugin
