"""Compact encoding: round trips on real ARC tasks, the map onto a pretrained tokenizer's tokens, position ids."""

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from arcforge.datasets import load_tasks
from arcforge.errors import ArcError
from arcforge.llm.text import (
    BOS,
    EOS,
    IGNORE,
    IN,
    NL,
    OUT,
    ROW_STRIDE,
    SYMBOLS,
    decode_grid,
    encode_pairs,
    next_position,
    output_ids,
    positions,
    pretrained_token_ids,
    prompt_ids,
)


def word_tokenizer(words: list[str], **specials) -> PreTrainedTokenizerFast:
    """A real HF fast tokenizer over `words` (ids in list order), one character per token."""
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token=words[0]))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    return PreTrainedTokenizerFast(tokenizer_object=tok, **specials)


def test_real_task_round_trip():
    task = load_tasks("arc1/train", limit=1)[0]
    ids, labels = encode_pairs(task, 0, test_output=True)
    prompt = prompt_ids(task, 0)
    assert ids[: len(prompt)] == prompt and prompt[-1] == OUT
    answer = ids[len(prompt):]
    assert answer == output_ids(task.test[0].output) and answer[-1] == EOS
    assert labels[len(prompt):] == answer  # the test output is labelled ...
    assert all(v == IGNORE for v in labels[: len(prompt)] if v not in range(10) and v not in (10, EOS))
    assert np.array_equal(decode_grid(answer), task.test[0].output)


def test_pretrained_token_ids_finds_the_tokenizers_own_tokens():
    # a Qwen-like vocabulary: newline spelled 'Ċ', specials <|im_start|> etc., symbols scattered among others
    words = ["<unk>", "a", "b", *[str(d) for d in range(9, -1, -1)], "x", "Ċ", "I", "O", "<|im_start|>",
             "<|im_end|>", "<|endoftext|>", "zz"]
    tok = word_tokenizer(words, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    ids = pretrained_token_ids(tok)
    want = {**{str(d): words.index(str(d)) for d in range(10)}, "\n": words.index("Ċ"), "I": words.index("I"),
            "O": words.index("O"), "<bos>": words.index("<|im_start|>"), "<eos>": words.index("<|im_end|>"),
            "<pad>": words.index("<|endoftext|>")}
    assert ids == [want[s] for s in SYMBOLS]


def test_pretrained_token_ids_keeps_the_map_one_to_one():
    # Llama-style: pad is the eos token; pad must fall back on another token
    words = ["<unk>", *[str(d) for d in range(10)], "\n", "I", "O", "<s>", "</s>"]
    tok = word_tokenizer(words, bos_token="<s>", eos_token="</s>", pad_token="</s>")
    ids = pretrained_token_ids(tok)
    assert len(set(ids)) == len(ids) and ids[SYMBOLS.index("<pad>")] == words.index("<unk>")


def test_pretrained_token_ids_names_a_missing_symbol():
    words = ["<unk>", *[str(d) for d in range(9)], "\n", "I", "O", "<s>", "</s>", "<pad>"]  # no '9'
    tok = word_tokenizer(words, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    with pytest.raises(ValueError, match="'9'"):
        pretrained_token_ids(tok)


def grid_cells(ids: list[int]) -> list[list[list[int]]]:
    """Index of every cell of every grid in a token sequence: grids[g][row][col]."""
    grids, row = [], []
    for i, t in enumerate(ids):
        if t in (IN, OUT):
            grids.append([])
        elif t == NL:
            grids[-1].append(row)
            row = []
        elif t < 10:
            row.append(i)
    return grids


def test_row_positions_put_the_cell_above_one_stride_back():
    torch = pytest.importorskip("torch")
    # grids 3, 4 and 30 wide: rows of 4, 5 and 31 tokens with their NL
    (task,) = load_tasks("arc1/train", tasks=["1f85a75f"])
    ids = encode_pairs(task, 0, test_output=True)[0]
    pos = positions(ids, "rows")
    assert pos[0] == 0 and (np.diff(pos) > 0).all()
    above = 0
    for grid in grid_cells(ids):
        assert len({len(r) for r in grid}) == 1
        for upper, lower in zip(grid, grid[1:], strict=False):
            assert (pos[lower] - pos[upper] == ROW_STRIDE).all()
            above += len(lower)
        assert all((pos[row] % ROW_STRIDE == np.arange(len(row))).all() for row in grid)  # column = pos mod stride
    assert above > 1000
    # past anything but a row break (NL, IN, OUT) one further: cells, BOS, EOS
    assert all(pos[i] == pos[i - 1] + 1 for i in range(1, len(ids)) if ids[i - 1] not in (NL, IN, OUT))
    assert positions(ids, "linear").tolist() == list(range(len(ids)))
    # token by token, on ints and elementwise on tensors, from the start or mid-sequence
    walk = [0]
    for i in range(1, len(ids)):
        walk.append(next_position(walk[-1], ids[i - 1], "rows"))
    assert walk == pos.tolist()
    step = next_position(torch.as_tensor(pos[:-1]), torch.as_tensor(ids[:-1]), "rows")
    assert step.tolist() == pos[1:].tolist()
    for k in (1, 5, 37, len(ids) // 2, len(ids) - 1):
        assert positions(ids[k:], "rows", start=int(pos[k])).tolist() == pos[k:].tolist()
    assert positions([BOS, IN, 1, 2, NL, 3, 4, NL, OUT, 5, NL, EOS, IN], "rows").tolist() == [
        0, 1, 32, 33, 34, 64, 65, 66, 96, 128, 129, 160, 161]
    with pytest.raises(ArcError, match="unknown position scheme 'diagonal'"):
        positions(ids, "diagonal")
