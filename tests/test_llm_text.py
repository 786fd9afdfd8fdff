"""Compact encoding: round trips on real ARC tasks, and the map onto a pretrained tokenizer's tokens."""

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from arcforge.datasets import load_tasks
from arcforge.llm.text import (
    EOS,
    IGNORE,
    OUT,
    SYMBOLS,
    decode_grid,
    encode_pairs,
    output_ids,
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
