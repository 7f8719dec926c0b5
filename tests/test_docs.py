"""Every Python block in README.md and docs/ runs, as a reader would run it.

A page's blocks run top to bottom in one namespace (later blocks may use what
earlier ones defined, as the prose does), in a scratch directory. Training
is shortened to one epoch (``keras.Model.fit`` is wrapped): the code path is
the reader's, only the wall time is not.
"""

from __future__ import annotations

import pathlib
import re

import pytest
import tf_keras as keras

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = ["README.md"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(page: str) -> list[str]:
    return BLOCK.findall((ROOT / page).read_text(encoding="utf-8"))


def test_the_pages_have_python_blocks():
    assert len(python_blocks("README.md")) >= 4
    assert sum(len(python_blocks(p)) for p in PAGES) >= 15


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)])
def test_python_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fit = keras.Model.fit

    def one_epoch(self, *args, **kwargs):
        kwargs["epochs"] = 1
        kwargs.setdefault("verbose", 0)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", one_epoch)
    namespace: dict = {"__name__": f"docs:{page}"}
    for i, block in enumerate(python_blocks(page)):
        try:
            exec(compile(block, f"{page} (python block {i + 1})", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"{page}, python block {i + 1} failed: {error!r}\n"
                                 f"{block}") from error
