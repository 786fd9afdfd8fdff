"""The compute format: fp32 on a CPU unless forced; forced fp16 (the path of GPUs without bf16, such
as Kaggle's T4 and P100) trains with loss scaling and learns what fp32 learns."""

import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from arcforge import precision
from arcforge.datasets import load_tasks
from arcforge.llm.model import create_model
from arcforge.llm.ttt import TTTConfig, task_adapter
from arcforge.task import Example, Task
from arcforge.tasknet.train import FitConfig, fit


@pytest.fixture
def fp(one_torch_thread):
    """precision.use, put back to auto afterwards."""
    yield precision.use
    precision.use("auto")


def test_auto_is_fp32_on_a_cpu_and_a_forced_format_holds(fp):
    assert precision.autocast_dtype("cpu") is None and precision.weight_dtype("cpu") == torch.float32
    assert not precision.scaler("cpu").is_enabled()
    fp("fp16")
    assert precision.autocast_dtype("cpu") == torch.float16 and precision.scaler("cpu").is_enabled()
    fp("bf16")
    assert precision.weight_dtype("cpu") == torch.bfloat16 and not precision.scaler("cpu").is_enabled()
    with pytest.raises(ValueError):
        fp("fp8")


def _tasknet_losses(steps=50) -> list[float]:
    task = load_tasks("arc1/train", tasks=["0d3d703e"])[0].without_test_outputs()
    torch.manual_seed(0)
    losses = []
    cfg = FitConfig(preset="tiny", views=2, optimizer="adamw", lr=3e-3, warmup=10, batch_tokens=512, steps=steps,
                    device="cpu")
    fit([task], {task.id}, cfg, Path(tempfile.mkdtemp()), None, log=lambda r: losses.append(r["loss"]))
    return losses


def test_tasknet_in_forced_fp16_learns_what_fp32_learns(fp):
    fp("fp32")
    full = _tasknet_losses()
    fp("fp16")
    half = _tasknet_losses()
    assert full[-1] < 0.3 and half[-1] < 0.3, (full, half)  # both fit the pairs (from about ln 16 = 2.8)
    assert half[-1] == pytest.approx(full[-1], rel=0.5)


def test_llm_ttt_in_forced_fp16_scales_its_loss_and_fits_the_pairs(fp):
    fp("fp16")
    picture = np.array([[3, 0, 3], [0, 5, 0], [3, 0, 3]], dtype=np.int8)
    rng = np.random.default_rng(7)
    grids = [rng.choice([0, 1, 2, 4], size=tuple(rng.integers(2, 8, size=2))).astype(np.int8) for _ in range(4)]
    task = Task("fp16", tuple(Example(g, picture) for g in grids[:3]), (Example(grids[3], None),))
    model = create_model("tiny", seed=0).eval()
    cfg = TTTConfig(steps=10, lr=3e-3, rank=0, batch_tokens=384, symmetries=False, colours=False)
    with task_adapter(model, [task], cfg, time.monotonic() + 300) as tuned:
        losses = tuned.ttt_losses
    assert len(losses) == 10 and all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0]
