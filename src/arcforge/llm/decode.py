"""Decoding and scoring with a causal LM over the compact 16-token vocabulary (see llm/text.py).

Three operations, all batched over many prompts (e.g. the views of one task) at once:

- `greedy_decode`: the most likely token at each step, rows leave the batch at EOS.
- `dfs_decode` / `dfs_decode_batch`: every completion ending in EOS whose cumulative probability
  is at least `threshold` (the "DFS" of the ARC Prize 2024 winners). Probabilities only shrink
  along a path, so the prefixes still above the threshold at one depth are disjoint events of
  total probability <= 1: at most 1/threshold of them per prompt. The search therefore walks the
  tree depth by depth and puts every live branch of every prompt into one forward step; it
  returns exactly the set a recursive depth-first search would.
- `score_sequences`: summed log-probabilities of given completions (teacher forcing).

KV cache reuse: each prompt is run once (prompts left-padded into one batch); after that every
step feeds only the one new token per branch. When branches split or die, the cache rows are
re-indexed (`Cache.reorder_cache`, an index_select that may repeat rows), so a child branch
inherits its parent's cache, prompt included, without recomputation; nothing is re-indexed on
the common steps where every branch has exactly one surviving child. Scoring runs a prompt once
and then all completions that share it on top of its cache, cropping back after each batch.
Position ids follow the model's scheme (text.positions over each prompt's real tokens, then
text.next_position a step).

Token choices are restricted to valid tokens (digits, NL, EOS): the model's log-probabilities
are renormalised over them (`valid_only`), in decoding and scoring alike, so a DFS log-prob equals
the teacher-forced score of the same sequence. On top of that a grid grammar prunes branches
that can no longer become a valid grid (empty rows, ragged rows, EOS mid-row, sides beyond
`max_side`); pruning does not renormalise, it only stops work on sequences that would be
dropped anyway.

For Llama/Qwen2-family models `as_lm` returns `fast.FastLM`, whose stepper keeps one preallocated
cache and replays CUDA graphs instead (the same results up to rounding; see llm/fast.py); `HFLM` (llm/hf.py)
is the general path.

Everything model-facing goes through a small `LM` interface (`stepper(prompts)` and `score`), so
a hand-built next-token distribution (`FunctionLM`) can stand in for a network in tests.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import torch

from arcforge.grid import MAX_SIDE
from arcforge.llm.fast import FastLM, supports
from arcforge.llm.hf import HFLM
from arcforge.llm.text import EOS, NL, VOCAB_SIZE, max_output_tokens
from arcforge.task import Task

Completion = tuple[list[int], float]  # generated tokens (ending in EOS) and their summed log-prob


# --------------------------------------------------------------------------------------------
# Output length bound


def output_side_bound(task: Task, test_index: int, slack: float = 1.25) -> int:
    """Largest side an output grid of test[test_index] could plausibly need, in any view.

    The maximum of the train outputs' sides, the test input's sides, and the test input's sides
    scaled by the largest output/input side ratio seen in training, times `slack` (outputs that
    keep growing beyond the train pairs: 3x3 -> 9, 12, 15 ...); clamped to 1..30. One number for
    both sides because views may transpose the grid. On ARC-AGI-1 train and eval it covers
    every test output."""
    sides = []
    ratio = 1.0
    for ex in task.train:
        (ih, iw), (oh, ow) = ex.input.shape, ex.output.shape
        sides += [oh, ow]
        ratio = max(ratio, oh / ih, ow / iw)
    th, tw = task.test[test_index].input.shape
    sides += [th, tw, max(th, tw) * ratio]
    return int(min(MAX_SIDE, max(1, math.ceil(max(sides) * slack - 1e-9))))


def output_token_bound(task: Task, test_index: int) -> int:
    """`max_new` for a task: tokens of the largest grid `output_side_bound` allows, plus EOS."""
    s = output_side_bound(task, test_index)
    return max_output_tokens(s, s)


# --------------------------------------------------------------------------------------------
# Grid grammar (vectorised over branches)


@dataclasses.dataclass
class _GridState:
    col: torch.Tensor  # digits written in the current row
    width: torch.Tensor  # width of the first row, 0 while unknown
    rows: torch.Tensor  # rows completed

    def select(self, idx: torch.Tensor) -> _GridState:
        return _GridState(self.col[idx], self.width[idx], self.rows[idx])


class GridGrammar:
    """Which next tokens can still lead to a valid grid with both sides <= max_side."""

    def __init__(self, max_side: int = MAX_SIDE, vocab_size: int = VOCAB_SIZE):
        self.max_side = max_side
        self.vocab_size = vocab_size

    def start(self, n: int, device) -> _GridState:
        z = torch.zeros(n, dtype=torch.long, device=device)
        return _GridState(z, z.clone(), z.clone())

    def allowed(self, s: _GridState) -> torch.Tensor:
        n = s.col.shape[0]
        mask = torch.zeros(n, self.vocab_size, dtype=torch.bool, device=s.col.device)
        limit = torch.where(s.width > 0, s.width, torch.full_like(s.width, self.max_side))
        digit = (s.col < limit) & (s.rows < self.max_side)
        mask[:, :10] = digit[:, None]
        mask[:, NL] = (s.col > 0) & ((s.width == 0) | (s.col == s.width))
        mask[:, EOS] = (s.col == 0) & (s.rows > 0)
        return mask

    def advance(self, s: _GridState, tokens: torch.Tensor) -> _GridState:
        is_nl = tokens == NL
        width = torch.where(is_nl & (s.width == 0), s.col, s.width)
        rows = s.rows + is_nl.long()
        col = torch.where(is_nl, torch.zeros_like(s.col), s.col + 1)
        return _GridState(col, width, rows)


# --------------------------------------------------------------------------------------------
# Language-model interface


class Stepper(Protocol):
    """Incremental next-token log-probabilities for a batch of branches (`LM.stepper(prompts,
    max_new)`; max_new is a hint of how many steps will follow, for preallocation).

    `start()` gives one row per prompt. `step(parents, tokens)` makes the new branch set: branch i
    continues row parents[i] of the previous result with tokens[i]; it returns one row per branch.
    Rows are log-probabilities over the vocabulary (float tensors, any device)."""

    def start(self) -> torch.Tensor: ...

    def step(self, parents: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor: ...


class LM(Protocol):
    def stepper(self, prompts: Sequence[Sequence[int]], max_new: int | None = None) -> Stepper: ...

    def score(self, prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]],
              batch_size: int) -> list[float]: ...


class FunctionLM:
    """A language model given as a function: `next_logprobs(sequences) -> [n, vocab]` log-probs
    of the token that follows each full sequence (prompt + generated so far). No cache, no
    batching cleverness: the reference that tests compare against."""

    def __init__(self, next_logprobs: Callable[[list[list[int]]], object]):
        self.next_logprobs = next_logprobs

    def _call(self, seqs: list[list[int]]) -> torch.Tensor:
        return torch.as_tensor(np.asarray(self.next_logprobs(seqs), dtype=np.float64))

    def stepper(self, prompts, max_new=None):
        lm = self

        class _Stepper:
            def __init__(self):
                self.seqs = [list(p) for p in prompts]

            def start(self):
                return lm._call(self.seqs)

            def step(self, parents, tokens):
                self.seqs = [self.seqs[p] + [t] for p, t in zip(parents.tolist(), tokens.tolist(), strict=True)]
                return lm._call(self.seqs)

        return _Stepper()

    def score(self, prompts, completions, batch_size=0):
        out = []
        for p, c in zip(prompts, completions, strict=True):
            seqs = [list(p) + list(c[:j]) for j in range(len(c))]
            lp = self._call(seqs) if seqs else torch.zeros(0, 1)
            out.append(float(sum(lp[j, t] for j, t in enumerate(c))))
        return out


def as_lm(model, valid_only: bool = True, fast: bool = True) -> LM:
    """An `LM` for a Hugging Face model: `fast.FastLM` (lean decoder, CUDA graphs) for the
    Llama/Qwen2 family unless fast=False, else `HFLM`; objects that already are LMs pass through."""
    if isinstance(model, (FunctionLM, HFLM, FastLM)):
        return model
    if fast and supports(model):
        return FastLM(model, valid_only=valid_only)
    return HFLM(model, valid_only=valid_only)


# --------------------------------------------------------------------------------------------
# Searches (model-agnostic: they see only a Stepper)


@dataclasses.dataclass
class _Frontier:
    """The live branches of a search: which prompt each belongs to, its summed log-prob, the tokens
    it has generated, and its grid-grammar state (None without a grammar)."""

    owner: torch.Tensor
    cum: torch.Tensor
    hist: torch.Tensor
    state: _GridState | None

    @classmethod
    def start(cls, n: int, device, grammar: GridGrammar | None) -> _Frontier:
        return cls(torch.arange(n, device=device), torch.zeros(n, dtype=torch.float64, device=device),
                   torch.zeros((n, 0), dtype=torch.long, device=device),
                   grammar.start(n, device) if grammar else None)

    def allowed(self, grammar: GridGrammar | None, lp: torch.Tensor) -> torch.Tensor:
        return grammar.allowed(self.state) if grammar else torch.ones_like(lp, dtype=torch.bool)

    def advance(self, rows: torch.Tensor, toks: torch.Tensor, cum: torch.Tensor,
                grammar: GridGrammar | None) -> _Frontier:
        """Branch i of the result continues row rows[i] with token toks[i]; cum = its new sum."""
        state = grammar.advance(self.state.select(rows), toks) if grammar else None
        return _Frontier(self.owner[rows], cum, torch.cat([self.hist[rows], toks[:, None]], dim=1), state)

    def finished(self, rows: torch.Tensor, eos: int, scores: torch.Tensor):
        """(prompt, tokens + [eos], score) of the branches rows that end here."""
        return zip(self.owner[rows].tolist(), (h + [eos] for h in self.hist[rows].tolist()), scores.tolist(),
                   strict=True)


def threshold_search(stepper: Stepper, n_prompts: int, threshold: float, max_new: int, eos: int = EOS,
                     grammar: GridGrammar | None = None, deadline: float | None = None) -> list[list[Completion]]:
    """Every continuation ending in `eos` (within max_new tokens) whose probability is
    >= threshold, per prompt, most likely first. Branches whose prefix falls below the threshold
    are cut (exact: extending a sequence never raises its probability). All live branches of all
    prompts advance together, one forward per depth. Past `deadline` (time.monotonic()) the
    search stops and returns the completions finished so far."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    results: list[list[Completion]] = [[] for _ in range(n_prompts)]
    if max_new <= 0 or n_prompts == 0:
        return results
    log_t = math.log(threshold)
    lp = stepper.start()
    front = _Frontier.start(n_prompts, lp.device, grammar)
    for depth in range(max_new):
        cand = front.cum[:, None] + lp.double()
        rows, toks = ((cand >= log_t) & front.allowed(grammar, lp)).nonzero(as_tuple=True)
        done = toks == eos
        if done.any():
            for o, seq, score in front.finished(rows[done], eos, cand[rows[done], eos]):
                results[o].append((seq, score))
        rows, toks = rows[~done], toks[~done]
        if rows.numel() == 0 or depth == max_new - 1 or (deadline is not None and time.monotonic() > deadline):
            break
        front = front.advance(rows, toks, cand[rows, toks], grammar)
        lp = stepper.step(rows, toks)
    for r in results:
        r.sort(key=lambda c: (-c[1], c[0]))
    return results


def greedy_search(stepper: Stepper, n_prompts: int, max_new: int, eos: int = EOS,
                  grammar: GridGrammar | None = None) -> list[Completion | None]:
    """The argmax continuation of each prompt (among grammar-allowed tokens), up to and
    including EOS; None where no EOS came within max_new tokens."""
    results: list[Completion | None] = [None] * n_prompts
    if max_new <= 0 or n_prompts == 0:
        return results
    lp = stepper.start()
    front = _Frontier.start(n_prompts, lp.device, grammar)
    for depth in range(max_new):
        masked = lp.double().masked_fill(~front.allowed(grammar, lp), float("-inf"))
        toks = masked.argmax(-1)
        cum = front.cum + masked.gather(-1, toks[:, None])[:, 0]
        done = toks == eos
        if done.any():
            for o, seq, score in front.finished(done.nonzero(as_tuple=True)[0], eos, cum[done]):
                results[o] = (seq, score)
        live = (~done).nonzero(as_tuple=True)[0]
        if live.numel() == 0 or depth == max_new - 1:
            break
        front = front.advance(live, toks[live], cum[live], grammar)
        lp = stepper.step(live, toks[live])
    return results


# --------------------------------------------------------------------------------------------
# Public entry points (take a Hugging Face model or an LM)


def _bounds(max_new: int | None, max_side: int) -> int:
    return max_output_tokens(max_side, max_side) if max_new is None else max_new


def greedy_decode(model, prompts: Sequence[Sequence[int]], max_new: int | None = None, *,
                  max_side: int = MAX_SIDE, grammar: bool = True, valid_only: bool = True
                  ) -> list[Completion | None]:
    """Greedy completions of many prompts in one batch (left-padded, KV cache)."""
    lm = as_lm(model, valid_only)
    g = GridGrammar(max_side) if grammar else None
    limit = _bounds(max_new, max_side)
    return greedy_search(lm.stepper(prompts, limit), len(prompts), limit, grammar=g)


def dfs_decode_batch(model, prompts: Sequence[Sequence[int]], threshold: float = 0.1,
                     max_new: int | None = None, *, max_side: int = MAX_SIDE, grammar: bool = True,
                     valid_only: bool = True, prompts_per_batch: int | None = None,
                     deadline: float | None = None) -> list[list[Completion]]:
    """For each prompt, every completion (tokens ending in EOS) with probability >= threshold,
    most likely first. With the grammar on (default) each one decodes to a valid grid with sides
    <= max_side. Up to `prompts_per_batch` prompts (all by default) are searched together; the
    live branches then number at most prompts_per_batch / threshold, each holding a copy of its
    prompt's cache."""
    lm = as_lm(model, valid_only)
    g = GridGrammar(max_side) if grammar else None
    n = len(prompts)
    step = prompts_per_batch or max(n, 1)
    limit = _bounds(max_new, max_side)
    out: list[list[Completion]] = []
    for k in range(0, n, step):
        part = prompts[k:k + step]
        out += threshold_search(lm.stepper(part, limit), len(part), threshold, limit, grammar=g, deadline=deadline)
    return out


def dfs_decode(model, prompt: Sequence[int], threshold: float = 0.1, max_new: int | None = None,
               **kw) -> list[Completion]:
    """`dfs_decode_batch` for one prompt."""
    return dfs_decode_batch(model, [prompt], threshold, max_new, **kw)[0]


def score_sequences(model, prompt_ids_list: Sequence[Sequence[int]], completion_ids_list: Sequence[Sequence[int]],
                    batch_size: int = 32, *, valid_only: bool = True) -> list[float]:
    """Summed log-probability of each completion given its prompt (teacher forcing), batched;
    completions that share a prompt reuse one run of it."""
    if len(prompt_ids_list) != len(completion_ids_list):
        raise ValueError("one completion per prompt")
    return as_lm(model, valid_only).score(prompt_ids_list, completion_ids_list, batch_size)
