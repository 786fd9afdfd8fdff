"""The Hugging Face path of decoding and scoring: `HFLM`, an `LM` (see llm/decode.py) over any
causal LM of transformers (plain or PEFT-wrapped) whose first 16 logits are the compact vocabulary,
with transformers' own KV cache. `llm/fast.py`'s lean decoder steps faster for the Llama/Qwen2
family and leans on this for scoring. Also `greedy_generate`, the plain one-prompt reference the
batched decoders are tested against."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import torch
from torch import nn

from arcforge.llm.text import EOS, NL, PAD, VOCAB_SIZE, next_position, position_scheme, positions

VALID_TOKENS = (*range(10), NL, EOS)


def _new_cache(model):
    from transformers import DynamicCache

    config = getattr(model, "config", None)
    try:
        return DynamicCache(config=config) if config is not None else DynamicCache()
    except TypeError:  # older signature without `config`
        return DynamicCache()


def _model_device(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


class HFLM:
    """A Hugging Face causal LM (plain or PEFT-wrapped) whose first 16 logits are the compact
    vocabulary. `valid_only` renormalises over digits, NL and EOS."""

    def __init__(self, model, valid_only: bool = True):
        self.model = model
        self.valid_only = valid_only
        self.device = _model_device(model)
        self.scheme = position_scheme(model)
        self.cache_kw = cache_kwarg()
        self._invalid = torch.ones(VOCAB_SIZE, dtype=torch.bool, device=self.device)
        self._invalid[list(VALID_TOKENS)] = False

    def logprobs(self, logits: torch.Tensor) -> torch.Tensor:
        logits = logits[..., :VOCAB_SIZE].float()
        if self.valid_only:
            logits = logits.masked_fill(self._invalid, float("-inf"))
        return torch.log_softmax(logits, dim=-1)

    def forward(self, ids, cache, attention_mask=None, position_ids=None) -> torch.Tensor:
        out = self.model(input_ids=ids, attention_mask=attention_mask, position_ids=position_ids,
                         use_cache=True, **{self.cache_kw: cache})
        return out.logits

    def stepper(self, prompts, max_new=None):
        return _HFStepper(self, prompts)

    @torch.no_grad()
    def score(self, prompts, completions, batch_size=32):
        """Teacher-forced summed log-probs. Completions sharing a prompt are scored together on
        one run of that prompt: its cache is expanded to the batch, the completions (right-padded)
        are fed in one forward, and the cache is cropped back to the prompt for the next batch."""
        out = [0.0] * len(prompts)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, p in enumerate(prompts):
            groups.setdefault(tuple(p), []).append(i)
        for prompt, members in groups.items():
            if not prompt:
                raise ValueError("empty prompt")
            cache = _new_cache(self.model)
            ids = torch.tensor([prompt], device=self.device)
            ppos = positions(prompt, self.scheme)
            logits = self.forward(ids, cache, position_ids=torch.as_tensor(ppos, device=self.device)[None])
            first = self.logprobs(logits[:, -1])  # [1, V]
            start = next_position(int(ppos[-1]), prompt[-1], self.scheme)
            rows = 1
            for k in range(0, len(members), batch_size):
                chunk = members[k:k + batch_size]
                comps = [list(completions[i]) for i in chunk]
                width = max(len(c) for c in comps)
                if width == 0:
                    continue
                if rows != len(chunk):
                    cache.reorder_cache(torch.zeros(len(chunk), dtype=torch.long, device=self.device))
                    rows = len(chunk)
                padded = np.full((len(chunk), width), PAD, dtype=np.int64)
                for r, c in enumerate(comps):
                    padded[r, :len(c)] = c
                tgt = torch.as_tensor(padded, device=self.device)
                lp = first.expand(len(chunk), -1)[:, None]
                if width > 1:
                    # each completion's own positions after the prompt (those of its PAD tail do not matter)
                    pos = np.stack([positions(row, self.scheme, start) for row in padded[:, :-1]])
                    pos = torch.as_tensor(pos, device=self.device)
                    logits = self.forward(tgt[:, :-1], cache, position_ids=pos)
                    lp = torch.cat([lp, self.logprobs(logits)], dim=1)
                    cache.crop(-(width - 1))  # back to the prompt (negative = tokens to remove, 5.x)
                got = lp.gather(-1, tgt[..., None])[..., 0].double()
                lens = torch.tensor([len(c) for c in comps], device=self.device)
                keep = torch.arange(width, device=self.device)[None] < lens[:, None]
                sums = torch.where(keep, got, torch.zeros_like(got)).sum(-1).tolist()
                for i, s in zip(chunk, sums, strict=True):
                    out[i] = float(s)
        return out


class _HFStepper:
    def __init__(self, lm: HFLM, prompts):
        if not prompts or any(len(p) == 0 for p in prompts):
            raise ValueError("prompts must be non-empty")
        self.lm = lm
        dev = lm.device
        n, plen = len(prompts), max(len(p) for p in prompts)
        ids = torch.full((n, plen), PAD, dtype=torch.long)
        mask = torch.zeros((n, plen), dtype=torch.long)
        pos = torch.zeros((n, plen), dtype=torch.long)
        for i, p in enumerate(prompts):  # left padding: every prompt ends at the last column
            ids[i, plen - len(p):] = torch.tensor(list(p), dtype=torch.long)
            mask[i, plen - len(p):] = 1
            pos[i, plen - len(p):] = torch.from_numpy(positions(p, lm.scheme))
        self.ids, self.mask, self.pos = ids.to(dev), mask.to(dev), pos.to(dev)
        self.padded = bool((mask == 0).any())
        self.next_pos = next_position(self.pos[:, -1], self.ids[:, -1], lm.scheme)
        self.cache = _new_cache(lm.model)
        self.rows = n

    @torch.no_grad()
    def start(self):
        logits = self.lm.forward(self.ids, self.cache, self.mask if self.padded else None, self.pos)
        return self.lm.logprobs(logits[:, -1])

    @torch.no_grad()
    def step(self, parents, tokens):
        parents = parents.to(self.lm.device)
        if parents.numel() != self.rows or not torch.equal(
                parents, torch.arange(self.rows, device=parents.device)):
            self.cache.reorder_cache(parents)
            self.mask = self.mask[parents]
            self.next_pos = self.next_pos[parents]
            self.rows = parents.numel()
        self.mask = torch.cat([self.mask, self.mask.new_ones(self.rows, 1)], dim=1)
        tokens = tokens.to(self.lm.device)
        logits = self.lm.forward(tokens[:, None], self.cache, self.mask if self.padded else None, self.next_pos[:, None])
        self.next_pos = next_position(self.next_pos, tokens, self.lm.scheme)
        return self.lm.logprobs(logits[:, -1])


def cache_kwarg() -> str:
    """The name of a transformers model's key/value cache, as forward argument and output field:
    transformers renamed `past_key_values` to `cache` during 5.x (the old name is deprecated, not
    gone); the output class follows the same rename."""
    from transformers.modeling_outputs import CausalLMOutputWithPast

    return "cache" if "cache" in {f.name for f in fields(CausalLMOutputWithPast)} else "past_key_values"


# ---- greedy decoding (reference; llm/decode.py does the fast batched kind) ----

@torch.no_grad()
def greedy_generate(model: nn.Module, prompt: list[int], max_new_tokens: int, eos: int = EOS) -> list[int]:
    """Greedy continuation of one prompt of compact ids, with a KV cache; stops after eos."""
    model.eval()
    device = next(model.parameters()).device
    key = cache_kwarg()
    scheme = position_scheme(model)
    pos = positions(prompt, scheme)
    out = model(input_ids=torch.tensor([prompt], device=device), position_ids=torch.as_tensor(pos, device=device)[None],
                use_cache=True)
    pos, last = int(pos[-1]), prompt[-1]
    new = []
    for _ in range(max_new_tokens):
        nxt = int(out.logits[0, -1].argmax())
        new.append(nxt)
        if nxt == eos:
            break
        past = getattr(out, key, None) if key == "cache" else out.past_key_values
        if past is None:
            past = out.past_key_values
        pos, last = next_position(pos, last, scheme), nxt
        out = model(input_ids=torch.tensor([[nxt]], device=device), position_ids=torch.tensor([[pos]], device=device),
                    use_cache=True, **{key: past})
    return new
