import os
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Under `pytest -n` (make test) the tests run in one process per core, and torch's own threads would
# only make them fight over the cores; alone, two threads are enough for the tiny models here.
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)


def run_cli(*args, timeout=600, **kw):
    """Run `python -m arcforge ...` as a user would; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "arcforge", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=kw.pop("cwd", ROOT), **kw)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models gain nothing from threads, and lose a lot when the cores are busy."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def cli():
    return run_cli
