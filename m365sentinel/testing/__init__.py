"""Test helpers for users of m365sentinel: the pytest plugin (``m365sentinel.testing.pytest_plugin``).

Installing the package registers the plugin with pytest (entry point ``pytest11``); its fixtures
``sentinel_emulator``, ``sentinel_connector`` and ``served_sentinel_emulator`` need the ``emulator`` extra only
when a test uses them. See the docs site's "Testing" guide.
"""
