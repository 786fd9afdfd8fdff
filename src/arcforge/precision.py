"""The number format models compute in, chosen once per process.

    auto  bf16 on GPUs that have it, fp16 on those that don't (T4, P100: Kaggle's cards), fp32 on a CPU
    bf16, fp16, fp32   forced (`--dtype`), e.g. fp16 on a bf16 GPU to test the Kaggle path

Training in fp16 scales its loss (`scaler`) so small gradients do not underflow. `solve --dtype`
and `train --dtype` call `use(...)` in the main process; every solver worker does the same from its
options, so all processes of a run agree.
"""

from __future__ import annotations

import torch

CHOICES = ("auto", "bf16", "fp16", "fp32")
_FORCED = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}
_choice = "auto"


def use(choice: str | None) -> None:
    global _choice
    if choice is None:
        return
    if choice not in CHOICES:
        raise ValueError(f"dtype must be one of {', '.join(CHOICES)}, got '{choice}'")
    _choice = choice


def autocast_dtype(device: torch.device | str) -> torch.dtype | None:
    """The half format to autocast to on `device`, or None for fp32."""
    device = torch.device(device)
    if _choice != "auto":
        return _FORCED[_choice]
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def weight_dtype(device: torch.device | str) -> torch.dtype:
    """The dtype to hold frozen weights in (e.g. a base model under LoRA): the autocast format, else fp32."""
    return autocast_dtype(device) or torch.float32


def autocast(device: torch.device | str):
    """A context computing in autocast_dtype(device) (nothing when that is fp32)."""
    device = torch.device(device)
    dtype = autocast_dtype(device)
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def scaler(device: torch.device | str) -> torch.amp.GradScaler:
    """Loss scaling for training: on in fp16, a no-op otherwise."""
    device = torch.device(device)
    return torch.amp.GradScaler(device.type, enabled=autocast_dtype(device) == torch.float16)
