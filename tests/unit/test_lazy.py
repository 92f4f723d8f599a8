"""Use-case modules named through `lazy` load on first use (a Lambda cold start pays only for its route),
or all at once for a long-lived server (`import_all`, the local stack's API processes)."""
from __future__ import annotations

import sys

from chalicelib.lazy import import_all, lazy


def test_a_lazy_module_loads_on_first_use_and_import_all_loads_the_rest(monkeypatch):
    for name in ("colorsys", "fractions"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    on_use = lazy("colorsys")
    never_used = lazy("fractions")
    assert "colorsys" not in sys.modules and "fractions" not in sys.modules
    assert on_use.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
    assert "colorsys" in sys.modules and "fractions" not in sys.modules
    import_all()
    assert "fractions" in sys.modules
    assert never_used.Fraction(1, 2) == sys.modules["fractions"].Fraction(1, 2)
