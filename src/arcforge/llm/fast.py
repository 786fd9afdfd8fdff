"""A lean incremental decoder for Llama/Qwen2-family models: one preallocated KV cache, fused
projections, LoRA folded into the weights, and (on CUDA) one captured CUDA graph per batch size.

Decoding an ARC grid is hundreds of steps of one token per branch; each step does little
arithmetic, so its cost is the number of kernel launches and Python calls. The Hugging Face forward
with a PEFT adapter issues well over a thousand launches a step for a 24-layer model, and its
DynamicCache grows by concatenation. `FastLM` instead:

- reads the model's effective weights once per search (LoRA deltas added in, q/k/v and gate/up
  fused), so a step is about a dozen launches a layer;
- writes keys and values into one buffer `[layers, rows, kv_heads, columns, head_dim]`: prompts are
  left-padded to a common last column and every branch of a search is at the same depth, so each
  step writes one column; branching re-indexes rows (`step(parents, ...)`);
- on CUDA, replays a CUDA graph of the whole step (captured once per rows bucket and column span,
  reused across searches and tasks: weights and cache live in persistent buffers that are refreshed
  in place).

The arithmetic is the model's own (RMSNorm in fp32, rotary embedding from the model's module, SDPA
with the grouped heads folded into the query length), so it agrees with `HFLM` to rounding; tests
compare the two. Position ids follow the model's scheme (llm/text.py); a step's are computed outside
the graph and fed to it like the tokens. `supports(model)` says whether a model can use it;
`decode.as_lm` falls back to `HFLM` otherwise.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from arcforge.llm.hf import HFLM
from arcforge.llm.model import base_of
from arcforge.llm.text import VOCAB_SIZE, next_position, position_scheme, positions

SUPPORTED = ("qwen2", "llama")
COLUMN_STEP = 256  # graphs are captured for column spans rounded up to this
ROW_BUCKETS = (1, 2, 4, 8, 16, 24, 32, 48, 64, 80, 96, 128, 160, 192, 256)


def supports(model) -> bool:
    m = base_of(model)
    cfg = getattr(m, "config", None)
    if cfg is None or getattr(cfg, "model_type", None) not in SUPPORTED:
        return False
    if getattr(cfg, "hidden_act", "silu") != "silu" or getattr(cfg, "use_sliding_window", False):
        return False
    rope = getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None) or {}
    if rope.get("rope_type", rope.get("type", "default")) not in ("default", "linear", "llama3"):
        return False  # "dynamic" rescales by sequence length: not a fixed function of position
    inner = getattr(m, "model", None)
    return inner is not None and hasattr(inner, "layers") and hasattr(inner, "rotary_emb")


def _linear_weights(m) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Effective (weight, bias) of a Linear, with any active, unmerged LoRA adapters added in."""
    base = getattr(m, "base_layer", None)
    if base is None:
        return m.weight.detach(), (m.bias.detach() if m.bias is not None else None)
    w = base.weight.detach()
    if not getattr(m, "merged", False) and not getattr(m, "disable_adapters", False):
        for name in m.active_adapters:
            if name in getattr(m, "lora_A", {}):
                w = w + m.get_delta_weight(name).to(w.dtype)
    return w, (base.bias.detach() if base.bias is not None else None)


def _cat_bias(ws, bs):
    if all(b is None for b in bs):
        return None
    return torch.cat([b if b is not None else w.new_zeros(w.shape[0]) for w, b in zip(ws, bs, strict=True)])


@dataclass
class _Layer:
    ln1: torch.Tensor
    wqkv: torch.Tensor
    bqkv: torch.Tensor | None
    wo: torch.Tensor
    bo: torch.Tensor | None
    ln2: torch.Tensor
    wgu: torch.Tensor
    bgu: torch.Tensor | None
    wdown: torch.Tensor
    bdown: torch.Tensor | None


def _rms(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    xf = x.float()
    return w * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    h = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., h:], x[..., :h]), dim=-1) * sin


class Engine:
    """Weights, cache buffer and graphs of one model (shared by every search on it)."""

    def __init__(self, model):
        m = base_of(model)
        cfg = m.config
        self.model = m
        self.n_layers = cfg.num_hidden_layers
        self.heads = cfg.num_attention_heads
        self.kv_heads = getattr(cfg, "num_key_value_heads", None) or self.heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.heads
        self.eps = cfg.rms_norm_eps
        first = next(m.parameters())
        self.device, self.dtype = first.device, first.dtype
        self.graphs_on = self.device.type == "cuda"
        self.layers: list[_Layer] = []
        self.K = self.V = None  # [layers, rows, kv_heads, columns, head_dim]
        self.valid = None  # [rows, columns] bool: which cache columns a row may attend to
        self.graphs: dict[tuple[int, int], tuple] = {}
        self.pool = None
        self.refresh()

    # ---- weights ----

    @torch.no_grad()
    def refresh(self) -> None:
        """Read the model's effective weights (after TTT, with its adapter) into the buffers; in place
        when the shapes are unchanged, so captured graphs stay valid."""
        inner = self.model.model
        new = []
        for layer in inner.layers:
            a, mlp = layer.self_attn, layer.mlp
            q, k, v = (_linear_weights(x) for x in (a.q_proj, a.k_proj, a.v_proj))
            o = _linear_weights(a.o_proj)
            g, u = _linear_weights(mlp.gate_proj), _linear_weights(mlp.up_proj)
            d = _linear_weights(mlp.down_proj)
            new.append(_Layer(
                ln1=layer.input_layernorm.weight.detach(),
                wqkv=torch.cat([q[0], k[0], v[0]]), bqkv=_cat_bias([q[0], k[0], v[0]], [q[1], k[1], v[1]]),
                wo=o[0], bo=o[1], ln2=layer.post_attention_layernorm.weight.detach(),
                wgu=torch.cat([g[0], u[0]]), bgu=_cat_bias([g[0], u[0]], [g[1], u[1]]), wdown=d[0], bdown=d[1]))
        head_w, head_b = _linear_weights(self.model.get_output_embeddings())
        norm = inner.norm.weight.detach()
        embed_w = self.model.get_input_embeddings().weight.detach()
        if self.layers and self.graphs:  # copy into the captured buffers
            for old, fresh in zip(self.layers, new, strict=True):
                for name in old.__dataclass_fields__:
                    dst, src = getattr(old, name), getattr(fresh, name)
                    if dst is not None:
                        dst.copy_(src)
            self.head_w.copy_(head_w[:VOCAB_SIZE])
            if self.head_b is not None:
                self.head_b.copy_(head_b[:VOCAB_SIZE])
            self.norm.copy_(norm)
            self.embed_w.copy_(embed_w)
            return
        # own copies: the model's tensors may change under TTT between searches
        self.layers = [_Layer(**{n: (getattr(x, n).clone() if getattr(x, n) is not None else None)
                                 for n in x.__dataclass_fields__}) for x in new]
        self.head_w = head_w[:VOCAB_SIZE].clone()
        self.head_b = head_b[:VOCAB_SIZE].clone() if head_b is not None else None
        self.norm = norm.clone()
        self.embed_w = embed_w.clone()

    # ---- the transformer ----

    def _body(self, x: torch.Tensor, pos: torch.Tensor, attend) -> torch.Tensor:
        """Logits over the compact vocabulary for x [B, T, hidden] at positions pos [B, T];
        `attend(layer, q, k, v)` stores k/v and returns attention outputs [B, heads, T, head_dim]."""
        B, T, _ = x.shape
        cos, sin = self.model.model.rotary_emb(x, pos)
        cos, sin = cos[:, None], sin[:, None]
        H, KV, D = self.heads, self.kv_heads, self.head_dim
        for li, L in enumerate(self.layers):
            h = _rms(x, L.ln1, self.eps)
            q, k, v = F.linear(h, L.wqkv, L.bqkv).split([H * D, KV * D, KV * D], dim=-1)
            q = _rotate(q.view(B, T, H, D).transpose(1, 2), cos, sin)
            k = _rotate(k.view(B, T, KV, D).transpose(1, 2), cos, sin)
            v = v.view(B, T, KV, D).transpose(1, 2)
            a = attend(li, q, k, v)
            x = x + F.linear(a.transpose(1, 2).reshape(B, T, H * D), L.wo, L.bo)
            g, u = F.linear(_rms(x, L.ln2, self.eps), L.wgu, L.bgu).chunk(2, dim=-1)
            x = x + F.linear(F.silu(g) * u, L.wdown, L.bdown)
        return F.linear(_rms(x, self.norm, self.eps), self.head_w, self.head_b)

    # ---- cache ----

    def reserve(self, rows: int, columns: int) -> None:
        """Make the cache hold at least rows x columns (contents kept; graphs dropped if it moves)."""
        have_r = 0 if self.K is None else self.K.shape[1]
        have_c = 0 if self.K is None else self.K.shape[3]
        if rows <= have_r and columns <= have_c:
            return
        r, c = max(rows, have_r), max(columns, have_c)
        r = next((b for b in ROW_BUCKETS if b >= r), r)  # grow in steps, not a row at a time
        c = -(-c // COLUMN_STEP) * COLUMN_STEP
        shape = (self.n_layers, r, self.kv_heads, c, self.head_dim)
        K = torch.zeros(shape, dtype=self.dtype, device=self.device)
        V = torch.zeros(shape, dtype=self.dtype, device=self.device)
        valid = torch.zeros((r, c), dtype=torch.bool, device=self.device)
        if self.K is not None:
            K[:, :have_r, :, :have_c] = self.K
            V[:, :have_r, :, :have_c] = self.V
            valid[:have_r, :have_c] = self.valid
        self.K, self.V, self.valid = K, V, valid
        self.graphs.clear()
        self.pool = None  # a memory pool outlives no graph: a new one for the next captures

    @torch.no_grad()
    def prefill(self, prompts, pos) -> tuple[torch.Tensor, int]:
        """Run each prompt (one at a time, unpadded, at positions pos[i]) into cache row i, right-aligned
        to column plen-1; returns the next-token logits [n, vocab] and plen."""
        n, plen = len(prompts), max(len(p) for p in prompts)
        self.valid[:n] = False
        logits = []
        G = self.heads // self.kv_heads
        for i, p in enumerate(prompts):
            P = len(p)
            start = plen - P
            ids = torch.tensor([list(p)], dtype=torch.long, device=self.device)
            x = F.embedding(ids, self.embed_w)

            def attend(li, q, k, v, i=i, start=start, P=P):
                self.K[li, i, :, start:start + P] = k[0]
                self.V[li, i, :, start:start + P] = v[0]
                if G > 1:
                    k, v = k.repeat_interleave(G, dim=1), v.repeat_interleave(G, dim=1)
                return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.head_dim ** -0.5)

            logits.append(self._body(x, torch.as_tensor(pos[i], device=self.device)[None], attend)[0, -1])
            self.valid[i, start:plen] = True
        return torch.stack(logits), plen

    def reorder(self, parents: torch.Tensor) -> None:
        n = parents.numel()
        self.reserve(n, self.K.shape[3])
        self.K[:, :n] = self.K.index_select(1, parents)
        self.V[:, :n] = self.V.index_select(1, parents)
        self.valid[:n] = self.valid.index_select(0, parents)

    def _step(self, tok: torch.Tensor, pos: torch.Tensor, col: torch.Tensor, span: int) -> torch.Tensor:
        """One token per row at cache column `col` (a 1-element tensor), attending to columns < span."""
        B = tok.shape[0]
        G, KV, D = self.heads // self.kv_heads, self.kv_heads, self.head_dim
        mask = self.valid[:B, None, None, :span]

        def attend(li, q, k, v):
            Kl, Vl = self.K[li, :B], self.V[li, :B]
            Kl.index_copy_(2, col, k)
            Vl.index_copy_(2, col, v)
            # grouped heads as query length: [B, KV, G, D] against [B, KV, span, D], no copies
            o = F.scaled_dot_product_attention(q.reshape(B, KV, G, D), Kl[:, :, :span], Vl[:, :, :span],
                                               attn_mask=mask, scale=D ** -0.5)
            return o.reshape(B, KV * G, 1, D)

        return self._body(F.embedding(tok[:, None], self.embed_w), pos[:, None], attend)[:, 0]

    @torch.no_grad()
    def step(self, tokens: torch.Tensor, positions: torch.Tensor, col: int) -> torch.Tensor:
        """Logits [n, vocab] after feeding tokens[i] at position positions[i] into cache row i,
        column col (rows 0..n-1 are the live branches)."""
        n = tokens.numel()
        self.valid[:n, col] = True
        if not self.graphs_on:
            colt = torch.tensor([col], device=self.device)
            return self._step(tokens, positions, colt, col + 1)
        b = next((r for r in ROW_BUCKETS if r >= n), None)
        if b is None or b > self.K.shape[1]:
            self.reserve(b or n, self.K.shape[3])
            b = b or n
        span = min(-(-(col + 1) // COLUMN_STEP) * COLUMN_STEP, self.K.shape[3])
        key = (b, span)
        if key not in self.graphs:
            self.graphs[key] = self._capture(b, span)
        graph, tok_in, pos_in, col_in, out = self.graphs[key]
        tok_in[:n] = tokens
        tok_in[n:] = 0
        pos_in[:n] = positions
        col_in.fill_(col)
        graph.replay()
        return out[:n]

    def _capture(self, b: int, span: int):
        tok = torch.zeros(b, dtype=torch.long, device=self.device)
        pos = torch.zeros(b, dtype=torch.long, device=self.device)
        col = torch.zeros(1, dtype=torch.long, device=self.device)
        # warm up on a side stream (allocator, kernels); the warm-up step writes keys and values of
        # a dummy token into column 0 of rows 0..b-1, so that column is saved and put back after
        saved = (self.K[:, :b, :, :1].clone(), self.V[:, :b, :, :1].clone())
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            self._step(tok, pos, col, span)
        torch.cuda.current_stream().wait_stream(s)
        if self.pool is None:
            self.pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self.pool):
            out = self._step(tok, pos, col, span)
        self.K[:, :b, :, :1], self.V[:, :b, :, :1] = saved
        return graph, tok, pos, col, out


_ENGINES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def engine_for(model) -> Engine:
    """The model's engine, made on first use and refreshed from its current weights."""
    m = base_of(model)
    eng = _ENGINES.get(m)
    if eng is None or eng.device != next(m.parameters()).device or eng.dtype != next(m.parameters()).dtype:
        eng = _ENGINES[m] = Engine(m)
    else:
        eng.refresh()
    return eng


class FastStepper:
    """`decode.Stepper` over an Engine: prompts left-padded to one last column, one column a step."""

    def __init__(self, lm: FastLM, prompts, max_new: int | None = None):
        if not prompts or any(len(p) == 0 for p in prompts):
            raise ValueError("prompts must be non-empty")
        self.lm = lm
        self.eng = eng = engine_for(lm.model)
        self.n = len(prompts)
        plen = max(len(p) for p in prompts)
        eng.reserve(self.n, plen + (max_new if max_new is not None else COLUMN_STEP))
        self.prompts = prompts
        self.scheme = position_scheme(lm.model)
        self.pos = [positions(p, self.scheme) for p in prompts]  # each prompt's own, from 0
        after = [next_position(int(q[-1]), p[-1], self.scheme) for p, q in zip(prompts, self.pos, strict=True)]
        self.next_pos = torch.tensor(after, dtype=torch.long, device=eng.device)
        self.col = plen
        self.rows = self.n

    def start(self) -> torch.Tensor:
        logits, self.col = self.eng.prefill(self.prompts, self.pos)
        return self.lm.logprobs(logits)

    def step(self, parents: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        eng = self.eng
        parents = parents.to(eng.device)
        if parents.numel() != self.rows or not torch.equal(parents, torch.arange(self.rows, device=eng.device)):
            eng.reorder(parents)
            self.next_pos = self.next_pos[parents]
            self.rows = parents.numel()
        if self.col >= eng.K.shape[3]:
            eng.reserve(self.rows, self.col + COLUMN_STEP)
        tokens = tokens.to(eng.device)
        logits = eng.step(tokens, self.next_pos, self.col)
        self.next_pos = next_position(self.next_pos, tokens, self.scheme)
        self.col += 1
        return self.lm.logprobs(logits)


class FastLM:
    """`decode.LM` whose stepper runs on an Engine; scoring is the Hugging Face forward's (a
    teacher-forced pass is one big batch, not launch-bound)."""

    def __init__(self, model, valid_only: bool = True):
        self.model = model
        self.hf = HFLM(model, valid_only)
        self.logprobs = self.hf.logprobs

    def stepper(self, prompts, max_new: int | None = None) -> FastStepper:
        return FastStepper(self, prompts, max_new)

    def score(self, prompts, completions, batch_size=32):
        return self.hf.score(prompts, completions, batch_size)
