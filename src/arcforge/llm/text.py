"""Grids and tasks as token sequences: one token per cell, a compact 16-symbol vocabulary.

Layout of a task (train pairs, then the test input; the model writes the test output):

    BOS  IN <input rows> OUT <output rows> EOS  IN ... OUT ... EOS  ...  IN <test rows> OUT

where each row is its cells' digits followed by NL. Training labels cover output rows and
their EOS only; everything else is context.

Position ids are a property of a model (its config's `arc_positions`, "linear" when absent):
"linear" numbers tokens 0, 1, 2, ...; "rows" puts the token after each row break (NL, and the IN
and OUT markers, after which a grid's first row comes) at the next multiple of ROW_STRIDE, any other
token one further. Every grid row then starts on the stride: a cell's position modulo ROW_STRIDE is
its column, and the cell above it is exactly ROW_STRIDE positions back. The next position depends
on the previous position and token only, as incremental decoding needs. Every path that feeds a
model (training, scoring, decoding) takes its ids from `positions` and `next_position`.
"""

from __future__ import annotations

import numpy as np

from arcforge.errors import ArcError
from arcforge.grid import MAX_SIDE, Grid
from arcforge.task import Task

NL, IN, OUT, BOS, EOS, PAD = 10, 11, 12, 13, 14, 15
VOCAB_SIZE = 16
SYMBOLS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "\n", "I", "O", "<bos>", "<eos>", "<pad>")
IGNORE = -100  # label value that the loss skips
POSITION_SCHEMES = ("linear", "rows")
POSITIONS_ATTR = "arc_positions"  # the model config attribute that holds the scheme
ROW_STRIDE = 32  # at least the MAX_SIDE + 1 tokens of a row and its NL
ROW_BREAKS = (NL, IN, OUT)  # "rows": the token after one of these starts on the stride


def encode_grid(grid: Grid) -> list[int]:
    h, w = grid.shape
    arr = np.full((h, w + 1), NL, dtype=np.int64)
    arr[:, :w] = grid
    return arr.ravel().tolist()


def decode_grid(tokens: list[int]) -> Grid | None:
    """Rows of digits each ending in NL (an EOS, if present, ends the grid). None when the tokens
    are not a valid rectangular grid: nothing is guessed."""
    if EOS in tokens:
        tokens = tokens[: tokens.index(EOS)]
    if not tokens or tokens[-1] != NL:
        return None
    rows, row = [], []
    for t in tokens:
        if t == NL:
            if not row:
                return None
            rows.append(row)
            row = []
        elif 0 <= t <= 9:
            row.append(t)
        else:
            return None
    w = len(rows[0])
    if len(rows) > MAX_SIDE or w > MAX_SIDE or any(len(r) != w for r in rows):
        return None
    return np.array(rows, dtype=np.int8)


def check_positions(scheme: str) -> str:
    if scheme not in POSITION_SCHEMES:
        raise ArcError(f"unknown position scheme '{scheme}': use {' or '.join(POSITION_SCHEMES)}")
    return scheme


def position_scheme(model) -> str:
    """The position scheme of a model (plain or PEFT-wrapped): its config's arc_positions, else "linear"."""
    get = getattr(model, "get_base_model", None)
    config = getattr(get() if callable(get) else model, "config", None)
    return check_positions(getattr(config, POSITIONS_ATTR, None) or "linear")


def positions(ids, scheme: str = "linear", start: int = 0) -> np.ndarray:
    """Position id of each token of `ids` (int64), the first at `start`: what `next_position` gives token
    by token, without a Python loop."""
    ids = np.asarray(ids)
    idx = np.arange(len(ids), dtype=np.int64)
    if check_positions(scheme) == "linear" or not len(ids):
        return start + idx
    ends = np.flatnonzero(np.isin(ids, ROW_BREAKS))  # each break ends a segment; the next one starts after it
    first = np.concatenate([[0], ends + 1])  # first index of each segment
    seg = np.searchsorted(ends, idx)  # segment of each token: the breaks before it
    # a segment starting at a multiple of the stride moves the next one on by whole strides; only
    # the first segment may start mid-stride (a continuation)
    jump = ROW_STRIDE * ((ends - first[:-1]) // ROW_STRIDE + 1)
    if len(ends):
        jump[0] = ROW_STRIDE * ((start + ends[0]) // ROW_STRIDE + 1) - start
    base = start + np.concatenate([[0], np.cumsum(jump)])
    return base[seg] + idx - first[seg]


def next_position(pos, token, scheme: str = "linear"):
    """Position of the token after one with id `token` at position `pos`: ints, numpy arrays or torch
    tensors, elementwise."""
    if check_positions(scheme) == "linear":
        return pos + 1
    row_break = (token == NL) | (token == IN) | (token == OUT)
    return pos + 1 + row_break * (ROW_STRIDE - 1 - pos % ROW_STRIDE)


def max_output_tokens(h: int = MAX_SIDE, w: int = MAX_SIDE) -> int:
    """Tokens needed to write an h x w grid and its EOS."""
    return h * (w + 1) + 1


def encode_pairs(task: Task, test_index: int | None = 0, train_first_output: bool = True,
                 test_output: bool = False) -> tuple[list[int], list[int]]:
    """Token ids and labels for a task: all train pairs, then test[test_index]'s input and the
    output marker (and, with test_output=True, its output as a labelled target).

    With test_index=None the sequence is the train pairs alone (their outputs labelled; the
    first output unlabelled when train_first_output is False)."""
    ids, labels = [BOS], [IGNORE]

    def add(tokens: list[int], labelled: bool) -> None:
        ids.extend(tokens)
        labels.extend(tokens if labelled else [IGNORE] * len(tokens))

    for i, ex in enumerate(task.train):
        add([IN, *encode_grid(ex.input), OUT], False)
        add([*encode_grid(ex.output), EOS], train_first_output or i > 0)
    if test_index is not None:
        ex = task.test[test_index]
        add([IN, *encode_grid(ex.input), OUT], False)
        if test_output:
            if ex.output is None:
                raise ValueError(f"task '{task.id}' test[{test_index}] has no output to encode")
            add([*encode_grid(ex.output), EOS], True)
    return ids, labels


def prompt_ids(task: Task, test_index: int) -> list[int]:
    """What the model sees before writing test[test_index]'s output."""
    return encode_pairs(task, test_index)[0]


def output_ids(grid: Grid) -> list[int]:
    """What the model should write: the grid's rows and EOS."""
    return [*encode_grid(grid), EOS]


# A pretrained tokenizer's own spelling of each compact symbol, tried in order: the first that is a
# single token wins. Specials fall back on the tokenizer's bos/eos/pad tokens.
_PRETRAINED_SPELLINGS = {
    "\n": ("\n", "Ċ", "<0x0A>"),
    "I": ("I", "ĠI", "▁I"),
    "O": ("O", "ĠO", "▁O"),
    "<bos>": ("<|im_start|>", "<s>", "<bos>", "<|begin_of_text|>"),
    "<eos>": ("<|im_end|>", "</s>", "<eos>", "<|eot_id|>", "<|end_of_text|>"),
    "<pad>": ("<|endoftext|>", "<pad>", "<unk>", "<|finetune_right_pad_id|>"),
}


def pretrained_token_ids(tokenizer) -> list[int]:
    """For each of the VOCAB_SIZE compact symbols, the id of a token the pretrained tokenizer already
    has (digits as digits, NL as newline, ...). Row i of a model's embedding is then the row to keep for
    compact id i. Raises ValueError when some symbol has no single token or two symbols share one."""
    vocab = tokenizer.get_vocab()
    specials = {"<bos>": tokenizer.bos_token, "<eos>": tokenizer.eos_token, "<pad>": tokenizer.pad_token}
    ids: list[int] = []
    for sym in SYMBOLS:
        spellings = [s for s in (specials.get(sym), *_PRETRAINED_SPELLINGS.get(sym, (sym,))) if s]
        # a token already taken (Llama's pad is its eos) is skipped: the mapping must be one-to-one
        found = next((vocab[s] for s in spellings if s in vocab and vocab[s] not in ids), None)
        if found is None and sym not in specials:
            enc = tokenizer.encode(sym, add_special_tokens=False)
            # one token that decodes back to the symbol (not an unknown-token stand-in)
            ok = len(enc) == 1 and enc[0] not in ids and tokenizer.decode(enc) == sym
            found = enc[0] if ok else None
        if found is None:
            raise ValueError(f"the tokenizer has no free single token for {sym!r} (tried {spellings})")
        ids.append(int(found))
    return ids
