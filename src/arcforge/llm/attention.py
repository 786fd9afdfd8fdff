"""Packed attention: many samples in one row, none attending across another's boundary. One kernel
(`packed_causal`) for the LLM trainer (through transformers' attention interface, `packed_mode`)
and the tasknet."""

from __future__ import annotations

import contextlib
import functools
import inspect

import torch
import torch.nn.functional as F
from torch import nn

from arcforge.llm.model import base_of

PACKED_ATTENTION = "arcforge_packed"


@functools.cache
def _varlen():
    """torch's flash varlen kernel (torch >= 2.9) and its parameter names; imported on first CUDA use
    (the import pulls in torch._dynamo, seconds on CPU)."""
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None, frozenset()
    return varlen_attn, frozenset(inspect.signature(varlen_attn).parameters)


@functools.cache
def _flash_runs_on(index: int | None) -> bool:
    """Whether FlashAttention runs on this GPU (compute capability 8.0 or more: not a T4 or P100)."""
    return torch.cuda.get_device_capability(index) >= (8, 0)


def packed_causal(q, k, v, cu, max_len: int, scale: float | None = None):
    """Causal attention within each sample of a packed row: q (L, H, D), k and v (L, KV, D), the
    samples' boundaries in `cu` (cumulative lengths, int32, from 0 to L). Returns (L, H, D).

    CUDA from Ampere on: one flash varlen kernel over the whole row (16-bit inside). CPU, older GPUs
    (T4, P100: flash needs compute capability 8.0) or a torch without it: one SDPA call, over the
    samples side by side, each padded at its end to `max_len` (padding after a sample's last token is
    never attended to by its real tokens, so a plain causal call is exact), or over the whole row
    with a block-diagonal causal mask, whichever is smaller (rows of many short samples: padded;
    rows of one long sample among many short or empty ones: the mask)."""
    varlen, params = _varlen() if q.is_cuda and _flash_runs_on(q.device.index) else (None, frozenset())
    if varlen is not None:
        extra = {"is_causal": True} if "is_causal" in params else {"window_size": (-1, 0)}
        if "enable_gqa" in params:
            extra["enable_gqa"] = True
        elif k.shape[1] != q.shape[1]:
            k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
            v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
        dt = q.dtype if q.dtype in (torch.float16, torch.bfloat16) else torch.bfloat16
        out = varlen(*(x.to(dt).contiguous() for x in (q, k, v)), cu, cu, max_len, max_len, scale=scale, **extra)
        return out.to(q.dtype)
    L = q.shape[0]
    pos = torch.arange(L, device=q.device)
    starts = cu.to(pos.dtype)
    # each token's sample and its place in it (empty samples at the end, as in a batch of fixed
    # shape, hold none)
    seg = torch.searchsorted(starts, pos, right=True) - 1
    if (len(cu) - 1) * max_len * max_len > L * L:
        mask = (seg[:, None] == seg[None, :]) & (pos[:, None] >= pos[None, :])
        out = F.scaled_dot_product_attention(q.transpose(0, 1)[None], k.transpose(0, 1)[None],
                                             v.transpose(0, 1)[None], attn_mask=mask[None, None], scale=scale,
                                             enable_gqa=True)
        return out[0].transpose(0, 1)
    off = pos - starts[seg]

    def padded(x):
        out = x.new_zeros(len(cu) - 1, max_len, *x.shape[1:])
        out[seg, off] = x
        return out.transpose(1, 2)  # (samples, heads, max_len, D)

    out = F.scaled_dot_product_attention(padded(q), padded(k), padded(v), is_causal=True, scale=scale,
                                         enable_gqa=True)
    return out.transpose(1, 2)[seg, off]


def packed_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """transformers' attention interface for one packed row (batch 1), samples given by cu_seq_lens_q."""
    q, k, v = query[0].transpose(0, 1), key[0].transpose(0, 1), value[0].transpose(0, 1)  # (L, H, D)
    out = packed_causal(q, k, v, kwargs["cu_seq_lens_q"], kwargs["max_length_q"], scaling)
    return out.unsqueeze(0), None


def _register_packed_attention() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(PACKED_ATTENTION, packed_attention)


@contextlib.contextmanager
def packed_mode(model: nn.Module):
    """Within this block the model's attention takes packed rows (see packed_attention); outside it,
    ordinary masked SDPA (generation, padded batches). Not for the unsloth backend, whose patched
    attention ignores transformers' attention interface."""
    _register_packed_attention()
    config = base_of(model).config
    before = config._attn_implementation
    config._attn_implementation = PACKED_ATTENTION
    try:
        yield model
    finally:
        config._attn_implementation = before
