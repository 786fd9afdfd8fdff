"""Decoding: DFS returns exactly the completions above the threshold (brute force on hand-built
distributions and on a real tiny transformer), cached batched decoding equals uncached
one-by-one decoding, and teacher-forced scores equal a plain forward pass; the tiny transformer's
tests run under both position schemes (llm/text.py)."""

import itertools
import math
import time
import zlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from arcforge.datasets import load_tasks  # noqa: E402
from arcforge.llm.decode import (  # noqa: E402
    FunctionLM,
    GridGrammar,
    dfs_decode,
    dfs_decode_batch,
    greedy_decode,
    greedy_search,
    output_side_bound,
    output_token_bound,
    score_sequences,
    threshold_search,
)
from arcforge.llm.hf import HFLM, VALID_TOKENS  # noqa: E402
from arcforge.llm.text import (  # noqa: E402
    BOS,
    EOS,
    IN,
    NL,
    OUT,
    decode_grid,
    max_output_tokens,
    output_ids,
    position_scheme,
    positions,
    prompt_ids,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def hashed_logprobs(vocab: int, support: tuple[int, ...], scale: float):
    """A fixed, arbitrary next-token distribution: logits drawn from a generator seeded by the
    sequence so far; tokens outside `support` get probability 0."""

    def fn(seqs):
        out = np.full((len(seqs), vocab), -np.inf)
        for i, s in enumerate(seqs):
            rng = np.random.default_rng(zlib.crc32(bytes(s)))
            logits = rng.normal(size=len(support)) * scale
            out[i, list(support)] = logits - np.logaddexp.reduce(logits)
        return out

    return fn


def brute_force(fn, prompt, alphabet, eos, max_new, keep=lambda seq: True):
    """All sequences of alphabet tokens followed by eos, length <= max_new, with their log-prob
    summed in generation order."""
    out = []
    for n in range(max_new):
        for body in itertools.product(alphabet, repeat=n):
            seq, lp = [*body, eos], 0.0
            for j, t in enumerate(seq):
                lp += float(fn([list(prompt) + seq[:j]])[0, t])
            if keep(seq):
                out.append((seq, lp))
    return out


def above(seqs, threshold):
    return sorted(((s, lp) for s, lp in seqs if lp >= math.log(threshold)), key=lambda c: (-c[1], c[0]))


def test_dfs_equals_brute_force_on_a_tiny_vocabulary():
    eos, max_new = 3, 6
    fn = hashed_logprobs(4, (0, 1, 2, 3), scale=2.5)
    prompts = [[0], [1, 2], [2, 2, 2]]
    every = [brute_force(fn, p, (0, 1, 2), eos, max_new) for p in prompts]
    sizes = []
    for threshold in (0.5, 0.2, 0.05, 0.01, 0.002):
        got = threshold_search(FunctionLM(fn).stepper(prompts), len(prompts), threshold, max_new, eos=eos)
        for p, g, e in zip(prompts, got, every, strict=True):
            want = above(e, threshold)
            assert [s for s, _ in g] == [s for s, _ in want], (p, threshold)
            assert np.allclose([lp for _, lp in g], [lp for _, lp in want], rtol=0, atol=1e-12)
            # something below the threshold was there to leave out
            assert any(lp < math.log(threshold) for _, lp in e)
            sizes.append(len(g))
    assert max(sizes) >= 5 and min(sizes) <= 1  # the thresholds span trivial to wide trees


def test_dfs_past_its_deadline_returns_what_it_finished():
    eos, max_new = 3, 6
    fn = hashed_logprobs(4, (0, 1, 2, 3), scale=2.5)
    prompts = [[0], [1, 2], [2, 2, 2]]
    full = threshold_search(FunctionLM(fn).stepper(prompts), len(prompts), 0.01, max_new, eos=eos)
    late = threshold_search(FunctionLM(fn).stepper(prompts), len(prompts), 0.01, max_new, eos=eos,
                            deadline=time.monotonic() - 1)
    # one depth is searched before the clock is read: only one-token completions (EOS at once)
    assert late == [[c for c in f if len(c[0]) == 1] for f in full]
    assert sum(map(len, full)) > sum(map(len, late))


def test_dfs_with_grid_grammar_keeps_exactly_the_valid_grids_above_threshold():
    max_side = 2
    max_new = max_output_tokens(max_side, max_side)
    fn = hashed_logprobs(16, (1, 2, NL, EOS), scale=1.5)
    prompts = [[BOS, IN, 1, NL, OUT], [BOS, IN, 2, 2, NL, OUT]]

    def valid(seq):
        g = decode_grid(seq)
        return g is not None and max(g.shape) <= max_side

    every = [brute_force(fn, p, (1, 2, NL), EOS, max_new) for p in prompts]
    for threshold in (0.01, 0.003, 0.001):
        got = dfs_decode_batch(FunctionLM(fn), prompts, threshold, max_side=max_side)
        for g, e in zip(got, every, strict=True):
            want = above([(s, lp) for s, lp in e if valid(s)], threshold)
            assert [s for s, _ in g] == [s for s, _ in want]
            assert np.allclose([lp for _, lp in g], [lp for _, lp in want], rtol=0, atol=1e-12)
            # sequences above the threshold that are no grid (or too big a grid) were dropped
            assert any(not valid(s) for s, _ in above(e, threshold))
        assert sum(map(len, got)) >= 2, "the test needs grids above the threshold"


@pytest.mark.parametrize("max_side", [1, 2, 3])
def test_grid_grammar_accepts_exactly_the_valid_grids(max_side):
    """Every sequence over {0, 1, NL, EOS} ending in EOS, up to the length bound: the grammar lets
    it through iff it decodes to a grid with both sides <= max_side."""
    g = GridGrammar(max_side)
    max_new = max_output_tokens(max_side, max_side)
    checked = 0
    for n in range(1, min(max_new, 8) + 1):
        seqs = torch.tensor([[*body, EOS] for body in itertools.product((0, 1, NL), repeat=n - 1)], dtype=torch.long)
        state, ok = g.start(len(seqs), "cpu"), torch.ones(len(seqs), dtype=torch.bool)
        for j in range(n):
            ok &= g.allowed(state)[torch.arange(len(seqs)), seqs[:, j]]
            state = g.advance(state, seqs[:, j])
        for seq, accepted in zip(seqs.tolist(), ok.tolist(), strict=True):
            grid = decode_grid(seq)
            assert accepted == (grid is not None and max(grid.shape) <= max_side), seq
            checked += accepted
    assert checked > 0


# ---------------------------------------------------------------- a real tiny transformer

P1 = [BOS, IN, 1, 2, NL, OUT]
P2 = [BOS, IN, 3, NL, 3, NL, OUT]
P3 = [BOS, IN, 5, NL, IN, 6, NL, OUT]


@pytest.fixture(scope="module", params=["linear", "rows"])
def tiny_model(tmp_path_factory, request):
    """A 2-layer Qwen2 over the 16-token vocabulary, fitted for a moment under each position scheme
    so that its output distribution has several completions well above typical thresholds; saved
    and loaded back the way real models are."""
    torch.manual_seed(0)
    cfg = transformers.Qwen2Config(vocab_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                   num_key_value_heads=1, intermediate_size=64, max_position_embeddings=512)
    cfg.arc_positions = request.param
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    data = [(P1, [1, 2, NL, EOS])] * 3 + [(P1, [2, 1, NL, EOS])] * 2 + [(P2, [3, 3, NL, EOS])] * 2 \
        + [(P2, [3, NL, 3, NL, EOS]), (P2, [4, 4, NL, EOS])]
    width = max(len(p) + len(c) for p, c in data)
    ids = torch.full((len(data), width), 15)
    labels = torch.full((len(data), width), -100)
    for i, (p, c) in enumerate(data):
        ids[i, :len(p) + len(c)] = torch.tensor(p + c)
        labels[i, len(p):len(p) + len(c)] = torch.tensor(c)
    pos = torch.stack([torch.as_tensor(positions(row, request.param)) for row in ids.numpy()])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        loss = model(input_ids=ids, labels=labels, position_ids=pos).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    path = tmp_path_factory.mktemp("tiny")
    model.save_pretrained(path)
    model = transformers.AutoModelForCausalLM.from_pretrained(path).eval()
    assert position_scheme(model) == request.param
    return model


def reference_lm(model, scheme=None):
    """The same model without cache, padding or batching: one full forward per sequence at the
    positions of its scheme (or `scheme`), renormalised over the valid tokens."""
    invalid = [t for t in range(16) if t not in VALID_TOKENS]
    scheme = scheme or position_scheme(model)

    def fn(seqs):
        rows = []
        with torch.no_grad():
            for s in seqs:
                pos = torch.as_tensor(positions(s, scheme))[None]
                logits = model(input_ids=torch.tensor([s]), position_ids=pos).logits[0, -1, :16].double()
                logits[invalid] = -math.inf
                rows.append(torch.log_softmax(logits, -1).numpy())
        return np.stack(rows)

    return FunctionLM(fn)


def test_tiny_model_dfs_batched_with_cache_equals_uncached_reference(tiny_model):
    prompts = [P1, P2, P3]  # different lengths: left padding in the batch
    ref = reference_lm(tiny_model)
    for threshold in (0.2, 0.03):
        got = dfs_decode_batch(tiny_model, prompts, threshold, max_side=3)
        want = threshold_search(ref.stepper(prompts), len(prompts), threshold, max_output_tokens(3, 3),
                                grammar=GridGrammar(3))
        for g, w in zip(got, want, strict=True):
            assert [s for s, _ in g] == [s for s, _ in w]
            assert np.allclose([lp for _, lp in g], [lp for _, lp in w], atol=1e-4)
        # one prompt alone gives the same as inside the batch
        assert [s for s, _ in dfs_decode(tiny_model, P3, threshold, max_side=3)] == [s for s, _ in got[2]]
    got = dfs_decode_batch(tiny_model, prompts, 0.1, max_side=3)
    assert [s for s, _ in got[0]] == [[1, 2, NL, EOS], [2, 1, NL, EOS]]  # what it was fitted to
    assert len(got[1]) >= 3


def test_tiny_model_dfs_logprobs_equal_teacher_forcing_and_brute_force(tiny_model):
    threshold, max_side = 0.01, 2
    found = dfs_decode(tiny_model, P2, threshold, max_side=max_side)
    assert len(found) >= 3
    scores = score_sequences(tiny_model, [P2] * len(found), [s for s, _ in found], batch_size=2)
    assert np.allclose(scores, [lp for _, lp in found], atol=1e-4)
    # brute force: every grid with sides <= 2 (10 + 100 + 100 + 10^4), scored by teacher forcing
    grids = [np.array(cells).reshape(h, w) for h in (1, 2) for w in (1, 2)
             for cells in itertools.product(range(10), repeat=h * w)]
    seqs = [[*(t for row in g for t in (*row.tolist(), NL)), EOS] for g in grids]
    lps = score_sequences(tiny_model, [P2] * len(seqs), seqs, batch_size=4096)
    want = above(list(zip(seqs, lps, strict=True)), threshold)
    assert [s for s, _ in found] == [s for s, _ in want]


def test_greedy_batched_equals_uncached_argmax(tiny_model):
    prompts = [P1, P2, P3, [BOS, IN, 7, 7, 7, NL, OUT]]
    got = greedy_decode(tiny_model, prompts, max_side=3)
    want = greedy_search(reference_lm(tiny_model).stepper(prompts), len(prompts), max_output_tokens(3, 3),
                         grammar=GridGrammar(3))
    for g, w in zip(got, want, strict=True):
        assert g[0] == w[0] and decode_grid(g[0]) is not None
        assert abs(g[1] - w[1]) < 1e-4
    assert got[0][0] == [1, 2, NL, EOS]
    # no grammar and too few tokens: no EOS, no result
    assert greedy_decode(tiny_model, [P1], max_new=2, grammar=False) == [None]


def test_score_sequences_equals_full_forward(tiny_model):
    prompts = [P1, P2, P1, P3, P1, P2]
    comps = [[1, 2, NL, EOS], [3, NL, 3, NL, EOS], [EOS], [9, 9, 9, NL, 9, 9, 9, NL, EOS], [2, 1, NL, EOS], [4, 4]]
    got = score_sequences(tiny_model, prompts, comps, batch_size=2)
    ref = reference_lm(tiny_model)
    want = ref.score(prompts, comps)
    assert np.allclose(got, want, atol=1e-4)
    assert got[0] > got[2]  # sanity: the fitted answer beats an immediate EOS


def test_output_bound_from_task_shapes():
    big, small = load_tasks("arc1/train", tasks=["007bbfb7", "0520fde7"])
    assert output_side_bound(big, 0) == 12  # 3x3 -> 9x9 in training, x1.25 slack
    assert output_side_bound(big, 0, slack=1.0) == 9
    assert output_side_bound(small, 0, slack=1.0) == 7  # 3x7 -> 3x3: the test input is the largest
    assert output_token_bound(big, 0) == max_output_tokens(12, 12)
    assert all(output_side_bound(t, 0) <= 30 for t in load_tasks("arc1/train", limit=50))


def test_prompts_run_once_then_one_token_per_branch(tiny_model):
    """The Hugging Face path (HFLM): its cache use, seen through the embedding's inputs."""
    shapes = []
    hook = tiny_model.get_input_embeddings().register_forward_pre_hook(lambda m, args: shapes.append(args[0].shape))
    try:
        found = dfs_decode_batch(HFLM(tiny_model), [P1, P2, P3], 0.03, max_side=3)
        assert shapes[0] == (3, len(P3))  # all prompts in one left-padded batch, once
        assert all(s[1] == 1 for s in shapes[1:])  # then only new tokens, on the cached prefix
        assert len(shapes) == max(len(s) for r in found for s, _ in r)  # one forward per depth
        assert max(s[0] for s in shapes[1:]) > 3  # branches of all prompts share those forwards
        shapes.clear()
        prompts = [P1, P2, P1, P1, P2, P1]
        comps = [[1, 2, NL, EOS], [3, 3, NL, EOS], [2, 1, NL, EOS], [EOS], [4, 4, NL, EOS], [5, NL, EOS]]
        score_sequences(tiny_model, prompts, comps, batch_size=3)
        # each distinct prompt once, then its completions in batches of at most 3 on its cache
        assert [tuple(s) for s in shapes] == [(1, len(P1)), (3, 3), (1, 2), (1, len(P2)), (2, 3)]
    finally:
        hook.remove()


def test_step_by_step_logprobs_equal_full_sequence_scoring(tiny_model):
    """Left-padded prompts of different lengths (a real task's among them), outputs of several rows:
    the log-probability summed step by step on the HF and the lean stepper equals the one scored by
    teacher forcing and the one of full uncached forwards at the model's positions."""
    from arcforge.llm.fast import FastLM

    (task,) = load_tasks("arc1/train", tasks=["d631b094"])
    prompts = [P1, prompt_ids(task, 0), P2, P3]
    outs = [[1, 2, NL, 2, 1, NL, EOS], output_ids(np.array([[2, 2], [2, 0]])), [3, NL, 3, NL, 3, NL, EOS],
            [5, 6, NL, 6, 5, NL, EOS]]
    assert len({len(o) for o in outs}) == 1 and len({len(p) for p in prompts}) == len(prompts)
    scored = score_sequences(tiny_model, prompts, outs, batch_size=3)
    want = reference_lm(tiny_model).score(prompts, outs)
    assert np.allclose(scored, want, atol=1e-4)
    rows = torch.arange(len(prompts))
    for lm in (HFLM(tiny_model), FastLM(tiny_model)):
        stepper, total = lm.stepper(prompts, max_new=len(outs[0])), torch.zeros(len(prompts), dtype=torch.float64)
        lp = stepper.start()
        for j in range(len(outs[0])):
            toks = torch.tensor([o[j] for o in outs])
            total += lp[rows, toks].double()
            if j + 1 < len(outs[0]):
                lp = stepper.step(rows, toks)
        assert np.allclose(total.numpy(), want, atol=1e-4), type(lm).__name__
    # the positions matter: the same weights at the other scheme's positions score otherwise
    other = {"linear": "rows", "rows": "linear"}[position_scheme(tiny_model)]
    assert not np.allclose(reference_lm(tiny_model, other).score(prompts, outs), want, atol=1e-2)


# ---- the lean decoder (llm/fast.py) against the Hugging Face forward ----


def _walk(stepper, schedule):
    """Log-prob rows from start() and then each (parents, tokens) step."""
    rows = [stepper.start()]
    for parents, tokens in schedule:
        rows.append(stepper.step(torch.tensor(parents), torch.tensor(tokens)))
    return rows


# branches split (repeated parents), die (missing parents) and run on unchanged
SCHEDULE = [([0, 1, 2], [1, 3, 9]), ([0, 0, 1, 2, 2], [2, 1, NL, 9, 9]), ([0, 1, 2, 3, 4], [NL, NL, 3, NL, 9]),
            ([1, 3, 4], [EOS, 4, NL]), ([0, 0, 2], [1, 2, 5]), ([0, 1, 2], [NL, NL, NL])]


def test_fast_stepper_equals_hf_stepper_through_splits_and_deaths(tiny_model):
    from arcforge.llm.fast import FastLM, supports

    assert supports(tiny_model)
    prompts = [P1, P2, P3]  # different lengths: left padding
    want = _walk(HFLM(tiny_model).stepper(prompts), SCHEDULE)
    got = _walk(FastLM(tiny_model).stepper(prompts, max_new=2), SCHEDULE)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        assert torch.allclose(g, w, atol=1e-5)


def test_fast_stepper_grows_its_cache_past_the_hint(tiny_model):
    from arcforge.llm.fast import COLUMN_STEP, FastLM

    long = [([0, 1], [d % 10, (d + 3) % 10]) for d in range(COLUMN_STEP + 40)]  # past the first allocation
    want = _walk(HFLM(tiny_model).stepper([P1, P3]), long)
    got = _walk(FastLM(tiny_model).stepper([P1, P3], max_new=1), long)
    assert len(got) == len(long) + 1
    assert all(torch.allclose(g, w, atol=1e-4) for g, w in zip(got, want, strict=True))


def test_fast_decoder_folds_lora_and_rereads_weights_each_search(tiny_model):
    import copy

    from peft import LoraConfig, get_peft_model

    from arcforge.llm.fast import FastLM

    model = copy.deepcopy(tiny_model)
    prompts = [P1, P2, P3]
    before = _walk(FastLM(model).stepper(prompts), SCHEDULE[:2])
    tuned = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.0))
    torch.manual_seed(1)
    for name, p in tuned.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 0.5)  # a fresh adapter is a no-op (B = 0); make it act
    tuned.eval()
    want = _walk(HFLM(tuned).stepper(prompts), SCHEDULE[:2])
    got = _walk(FastLM(tuned).stepper(prompts), SCHEDULE[:2])
    for g, w, b in zip(got, want, before, strict=True):
        assert torch.allclose(g, w, atol=1e-5)
        assert not torch.allclose(g, b, atol=1e-3)  # the adapter changed the answer
    tuned.unload()
    again = _walk(FastLM(model).stepper(prompts), SCHEDULE[:2])  # adapter gone: back to the base weights
    for a, b in zip(again, before, strict=True):
        assert torch.allclose(a, b, atol=1e-6)
