from __future__ import annotations

import m365sentinel.models as models


def test_all_lists_exactly_the_public_names() -> None:
    public = {n for n in vars(models) if not n.startswith("_") and n != "annotations"}
    assert set(models.__all__) == public
    assert models.__all__ == sorted(models.__all__, key=lambda n: (n[0].islower(), n))
