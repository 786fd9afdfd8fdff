"""Make arcforge_kaggle.ipynb from arcforge_kaggle.py: one cell per block opened by a `# %%` line,
`# %% [markdown]` blocks as text. `python kaggle/make_notebook.py` rewrites it; `--check` says whether it is current."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPT, NOTEBOOK = HERE / "arcforge_kaggle.py", HERE / "arcforge_kaggle.ipynb"


def cells(text: str) -> list[dict]:
    out = []
    for block in re.split(r"^# %%", text, flags=re.M)[1:]:
        head, _, body = block.partition("\n")
        lines = body.strip("\n").splitlines(keepends=True)
        if head.strip() == "[markdown]":
            lines = [ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in lines]
            out.append({"cell_type": "markdown", "metadata": {}, "source": lines})
        else:
            out.append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": lines})
    return out


def notebook() -> str:
    nb = {"cells": cells(SCRIPT.read_text()), "nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                       "language_info": {"name": "python"}}}
    return json.dumps(nb, indent=1) + "\n"


if __name__ == "__main__":
    if "--check" in sys.argv[1:]:
        current = NOTEBOOK.is_file() and NOTEBOOK.read_text() == notebook()
        print("up to date" if current else f"{NOTEBOOK.name} differs from {SCRIPT.name}: run python {__file__}")
        sys.exit(0 if current else 1)
    NOTEBOOK.write_text(notebook())
    print(f"wrote {NOTEBOOK}")
