from __future__ import annotations

import m365sentinel.models as models


def test_all_lists_exactly_the_public_names() -> None:
    assert len(set(models.__all__)) == len(models.__all__)
    assert models.__all__ == sorted(models.__all__, key=lambda n: (n[0].islower(), n))
    for name in models.__all__:  # each resolves (lazily); classes and functions come from a private submodule
        value = getattr(models, name)
        if isinstance(value, type) or (callable(value) and name != "converter"):
            assert value.__module__.startswith("m365sentinel.models._"), name


def test_lazy_exports_match_all_and_load_on_first_use():
    import subprocess
    import sys

    import m365sentinel.models as models

    assert sorted(n for names in models._WHERE.values() for n in names) == sorted(models.__all__)
    code = (
        "import sys, m365sentinel.models as m; before = 'm365sentinel.models._arm' in sys.modules; "
        "m.Incident; print(before, 'm365sentinel.models._arm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.split() == ["False", "True"]
