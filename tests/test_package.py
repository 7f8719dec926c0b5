"""Packaging: import is lazy and quiet; the public API is complete."""

from __future__ import annotations

import subprocess
import sys


def test_import_is_lazy_and_prints_nothing():
    code = ("import sys, tfp_genmodels; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported eagerly'; "
            "print(tfp_genmodels.__version__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == _declared_version() == "0.2.0"
    assert out.stderr == ""


def _declared_version() -> str:
    """The version setup.cfg declares (the package's must be the same)."""
    import configparser
    import os

    config = configparser.ConfigParser()
    config.read(os.path.join(os.path.dirname(os.path.dirname(__file__)), "setup.cfg"))
    return config["metadata"]["version"]


def test_the_changelog_records_this_version():
    import os

    with open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "CHANGELOG.md"),
              encoding="utf-8") as f:
        changelog = f.read()
    assert f"## [{_declared_version()}]" in changelog


def test_public_bijector_api():
    import tensorflow_probability as tfp

    from tfp_genmodels import bijectors
    names = ["AffineCoupling", "AdditiveCoupling", "SplineCoupling", "ActNorm",
             "InvertibleConv1x1", "InvertibleLinear", "Squeeze", "Logit", "Dequantize",
             "Planar", "Radial", "Householder"]
    for name in names:
        assert name in bijectors.__all__
        assert issubclass(getattr(bijectors, name), tfp.bijectors.Bijector), name
