"""Load or create a causal LM that speaks the compact ARC vocabulary; LoRA; save. (Packed attention:
llm/attention.py; GGUF files: llm/gguf.py; a reference greedy decoder: llm/hf.py.)

    model, info = load_model("tiny")                              # fresh random model of a shape (SHAPES)
    model, info = load_model("Qwen/Qwen2.5-0.5B-Instruct", lora=LoraSettings())  # hub id or folder
    model, info = load_model("SmolLM2-135M-Instruct.Q4_1.gguf")   # a GGUF file (needs `gguf`)
    save_model(model, "runs/x/model"); model, info = load_model("runs/x/model")
    model, info = load_model("tiny", positions="rows")            # row-aligned position ids (llm/text.py)

Every model comes out speaking compact ids (llm/text.py): a pretrained model's embedding and output
rows are cut down to the 16 rows of the tokens its tokenizer already has for those symbols.
A model's position scheme lives in its config (`arc_positions`, saved in config.json); a LoRA
adapter folder records its own in ADAPTER_META, which wins over its base's.
Backends: "unsloth" (FastLanguageModel; default when it is installed and CUDA is present) and
"transformers" (transformers + PEFT, everywhere).
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from arcforge import precision
from arcforge.errors import ArcError
from arcforge.llm.gguf import load_gguf
from arcforge.llm.text import (
    BOS,
    EOS,
    PAD,
    POSITIONS_ATTR,
    VOCAB_SIZE,
    check_positions,
    position_scheme,
    pretrained_token_ids,
)

# Fresh models: the transformers Qwen2 architecture at a few sizes, compact vocabulary.
SHAPES = {
    "tiny": dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=384),
    "small": dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=2,
                  intermediate_size=1408),
    # the shipped default model's shape (~12.6M parameters): small enough to run on a laptop CPU
    "arc-12m": dict(hidden_size=384, num_hidden_layers=8, num_attention_heads=6, num_key_value_heads=2,
                    intermediate_size=1024),
    # Qwen2.5-0.5B's shape with random weights: for benchmarks and for training from scratch
    "qwen2.5-0.5b-shape": dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14,
                               num_key_value_heads=2, intermediate_size=4864),
}
MAX_POSITIONS = 16384
ADAPTER_META = "arcforge.json"  # beside a LoRA adapter: what its base's config cannot hold (the position scheme)


@dataclass
class LoraSettings:
    r: int = 64
    alpha: int = 64
    dropout: float = 0.0
    target_modules: str | list[str] = "all-linear"
    # with 16 rows the embedding and output layers are trained whole: cheaper than a LoRA of them
    train_embeddings: bool = True


@dataclass
class ModelInfo:
    spec: str
    backend: str
    lora: bool
    # model token id of each compact symbol: identity after shrinking (the default)
    token_ids: list[int] = field(default_factory=lambda: list(range(VOCAB_SIZE)))


def default_backend() -> str:
    return "unsloth" if torch.cuda.is_available() and importlib.util.find_spec("unsloth") else "transformers"


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def check_device(device: str | torch.device | None) -> torch.device:
    """The device to use (None: cuda when there is one), refused in one line if this machine lacks it."""
    device = torch.device(device) if device is not None else default_device()
    if device.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            built = "" if torch.backends.cuda.is_built() else f" (torch {torch.__version__} is built without CUDA)"
            raise ArcError(f"device {device}: no CUDA GPU here{built}")
        if device.index is not None and device.index >= n:
            raise ArcError(f"device {device}: only {n} GPU(s) here (cuda:0 to cuda:{n - 1})")
    return device


def create_model(shape: str = "tiny", seed: int = 0, **overrides) -> nn.Module:
    """A fresh, randomly initialised Qwen2 model with the compact vocabulary."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    if shape not in SHAPES:
        raise ArcError(f"unknown model shape '{shape}': use one of {', '.join(SHAPES)}, a folder or a hub id")
    cfg = Qwen2Config(vocab_size=VOCAB_SIZE, max_position_embeddings=MAX_POSITIONS, rope_theta=10000.0,
                      tie_word_embeddings=False, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD,
                      **{**SHAPES[shape], **overrides})
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(cfg)
    model.generation_config.pad_token_id = PAD
    return model


def shrink_vocab(model: nn.Module, token_ids: list[int]) -> nn.Module:
    """Keep only the embedding and output rows of `token_ids` (row i becomes compact id i). Unties them:
    16 rows cost nothing, and separate layers keep LoRA/PEFT simple."""
    idx = torch.tensor(token_ids, dtype=torch.long)
    emb, head = model.get_input_embeddings(), model.get_output_embeddings()
    new_emb = nn.Embedding(len(token_ids), emb.weight.shape[1], dtype=emb.weight.dtype, device=emb.weight.device)
    new_emb.weight.data.copy_(emb.weight.data[idx.to(emb.weight.device)])
    new_head = nn.Linear(head.weight.shape[1], len(token_ids), bias=head.bias is not None,
                         dtype=head.weight.dtype, device=head.weight.device)
    new_head.weight.data.copy_(head.weight.data[idx.to(head.weight.device)])
    if head.bias is not None:
        new_head.bias.data.copy_(head.bias.data[idx.to(head.bias.device)])
    model.config.tie_word_embeddings = False
    if hasattr(model, "_tied_weights_keys"):
        model._tied_weights_keys = None
    model.set_input_embeddings(new_emb)
    model.set_output_embeddings(new_head)
    model.config.vocab_size = len(token_ids)
    model.config.bos_token_id, model.config.eos_token_id, model.config.pad_token_id = BOS, EOS, PAD
    gen = getattr(model, "generation_config", None)
    if gen is not None:
        gen.bos_token_id, gen.eos_token_id, gen.pad_token_id = BOS, EOS, PAD
    return model


def _is_adapter_dir(spec: str) -> bool:
    return (Path(spec) / "adapter_config.json").is_file()


def _token_ids_for(spec: str) -> list[int]:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(spec)
    except (OSError, ValueError) as e:
        raise ArcError(f"model '{spec}' has {'no' if 'vocab' not in str(e) else 'an unusable'} tokenizer to map "
                       f"the ARC symbols onto: {str(e).splitlines()[0]}") from None
    try:
        return pretrained_token_ids(tok)
    except ValueError as e:
        raise ArcError(f"model '{spec}': {e}") from None


def hub_unreachable(timeout: float = 3.0) -> str | None:
    """None when the model hub's host answers on its port; else why not (one try, `timeout` at most)."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return None
    except OSError as e:
        return e.strerror or type(e).__name__


def _load_base(spec: str, backend: str, dtype: torch.dtype, device: torch.device, shrink: bool,
               full_finetuning: bool):
    """The base model of a folder, GGUF file or hub id, shrunk to compact ids unless it already is."""
    from transformers import AutoConfig, AutoModelForCausalLM

    if spec.endswith(".gguf") and Path(spec).is_file():
        if backend == "unsloth":
            raise ArcError(f"model '{spec}': load GGUF files with --backend transformers")
        model, ids = load_gguf(Path(spec), dtype)
        if shrink:
            shrink_vocab(model, ids)
            ids = list(range(VOCAB_SIZE))
        return model.to(device), ids
    try:
        config = AutoConfig.from_pretrained(spec, local_files_only=True)  # a folder, or a hub id in the cache
    except (OSError, ValueError):
        why = None if os.environ.get("HF_HUB_OFFLINE") else hub_unreachable()
        if why:  # say so at once rather than after the hub client's retries (about 30 s)
            raise ArcError(f"cannot load model '{spec}': not a model shape ({', '.join(SHAPES)}), a model folder or a "
                           f"cached hub id, and the model hub cannot be reached ({why})") from None
        try:
            config = AutoConfig.from_pretrained(spec)
        except (OSError, ValueError) as e:
            raise ArcError(f"cannot load model '{spec}': not a model shape ({', '.join(SHAPES)}), a model folder, or a "
                           f"reachable hub id ({str(e).splitlines()[0]})") from None
    compact = config.vocab_size == VOCAB_SIZE
    if backend == "unsloth":
        from unsloth import FastLanguageModel

        model, _ = FastLanguageModel.from_pretrained(model_name=spec, max_seq_length=MAX_POSITIONS, dtype=dtype,
                                                     load_in_4bit=False, full_finetuning=full_finetuning)
    else:
        model = AutoModelForCausalLM.from_pretrained(spec, dtype=dtype, attn_implementation="sdpa")
        model.to(device)
    ids = list(range(VOCAB_SIZE))
    if not compact:
        ids = _token_ids_for(spec)
        if shrink:
            shrink_vocab(model, ids)
            ids = list(range(VOCAB_SIZE))
    return model, ids


def add_lora(model: nn.Module, lora: LoraSettings, backend: str = "transformers") -> nn.Module:
    save = ["embed_tokens", "lm_head"] if lora.train_embeddings else None
    if backend == "unsloth":
        from unsloth import FastLanguageModel

        targets = lora.target_modules
        if targets == "all-linear":
            targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        return FastLanguageModel.get_peft_model(model, r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                                                target_modules=targets, modules_to_save=save,
                                                use_gradient_checkpointing=False)
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=lora.target_modules,
                     modules_to_save=save, task_type="CAUSAL_LM")
    return get_peft_model(model, cfg)


def set_position_scheme(model: nn.Module, scheme: str) -> nn.Module:
    """Make `scheme` the model's position scheme (its config's arc_positions; llm/text.py)."""
    setattr(base_of(model).config, POSITIONS_ATTR, check_positions(scheme))
    return model


def load_model(spec: str = "tiny", backend: str | None = None, lora: LoraSettings | None = None,
               device: str | torch.device | None = None, dtype: torch.dtype | None = None, shrink: bool = True,
               trainable: bool = True, seed: int = 0, positions: str | None = None) -> tuple[nn.Module, ModelInfo]:
    """A model by shape name (SHAPES), folder (full model or LoRA adapter) or hub id, on `device`.

    A LoRA adapter folder brings its base with it (its adapter_config names the base). `lora` adds a
    fresh adapter to a model that has none. dtype defaults to the half format of `precision` under
    LoRA (bf16 on most GPUs, fp16 on those without bf16, fp32 on a CPU); full fine-tuning keeps fp32
    weights (autocast does the half-precision work). `positions` sets the
    model's position scheme; None keeps its own ("linear" for a fresh shape)."""
    if positions is not None:
        check_positions(positions)  # before any loading
    device = check_device(device)
    # a fresh shape is built by transformers; unsloth needs a folder or hub id to load from
    backend = backend or ("transformers" if spec in SHAPES else default_backend())
    if backend not in ("transformers", "unsloth"):
        raise ArcError(f"unknown backend '{backend}': use transformers or unsloth")
    if backend == "unsloth" and not importlib.util.find_spec("unsloth"):
        raise ArcError("backend 'unsloth' is not installed: pip install unsloth, or use --backend transformers")
    if backend == "unsloth" and device.type != "cuda":
        raise ArcError("backend 'unsloth' needs a CUDA GPU; use --backend transformers on CPU")
    if dtype is None:
        lora_run = lora is not None or _is_adapter_dir(spec)
        dtype = precision.weight_dtype(device) if lora_run else torch.float32

    if spec in SHAPES:
        if backend == "unsloth":
            raise ArcError(f"shape '{spec}' is a fresh model: save it first (save_model) to load it with unsloth")
        model, ids = create_model(spec, seed=seed).to(device=device, dtype=dtype), list(range(VOCAB_SIZE))
        model.config._attn_implementation = "sdpa"
    elif _is_adapter_dir(spec):
        adapter_cfg = json.loads((Path(spec) / "adapter_config.json").read_text())
        base_spec = adapter_cfg.get("base_model_name_or_path")
        if not base_spec:
            raise ArcError(f"{spec}: adapter_config.json names no base model")
        if base_spec in SHAPES:
            raise ArcError(f"{spec}: its base is the fresh shape '{base_spec}', whose weights were not saved")
        base, ids = _load_base(base_spec, backend, dtype, device, shrink, full_finetuning=False)
        from peft import PeftModel

        meta = Path(spec) / ADAPTER_META
        if meta.is_file():
            set_position_scheme(base, json.loads(meta.read_text())[POSITIONS_ATTR])
        model = PeftModel.from_pretrained(base, spec, is_trainable=trainable)
        if positions is not None:
            set_position_scheme(model, positions)
        return model, ModelInfo(spec, backend, True, ids)
    else:
        model, ids = _load_base(spec, backend, dtype, device, shrink, full_finetuning=lora is None)
    model.config._name_or_path = spec
    if positions is not None:
        set_position_scheme(model, positions)
    if lora is not None:
        model = add_lora(model, lora, backend)
    return model, ModelInfo(spec, backend, lora is not None, ids)


def compact_tokenizer():
    """A Hugging Face tokenizer whose vocabulary is exactly the compact symbols (id i = SYMBOLS[i]), so
    a saved compact model folder is complete for tools that expect one (unsloth, pipelines)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from arcforge.llm.text import SYMBOLS

    tok = Tokenizer(models.WordLevel({s: i for i, s in enumerate(SYMBOLS)}, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")  # one character, one token
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                   unk_token="<pad>")


def save_model(model: nn.Module, out: str | Path, base_spec: str | None = None) -> Path:
    """Standard Hugging Face folder: the full model, or a PEFT adapter folder for a LoRA model.
    base_spec records where the adapter's base lives (a folder or hub id)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if is_peft(model) and base_spec is not None:
        for cfg in model.peft_config.values():
            cfg.base_model_name_or_path = str(base_spec)
    model.save_pretrained(out)
    if is_peft(model):
        (out / ADAPTER_META).write_text(json.dumps({POSITIONS_ATTR: position_scheme(model)}) + "\n")
    elif model.config.vocab_size == VOCAB_SIZE:
        compact_tokenizer().save_pretrained(out)
    return out


def export_model(src: str | Path, dst: str | Path, dtype: str = "bfloat16", shard_mb: int = 15) -> Path:
    """Copy a saved full model to `dst` in `dtype`, split into safetensors shards of at most shard_mb
    MB (files that fit the device tool's 16 MiB limit and a git repository). Loads as any folder."""
    from transformers import AutoModelForCausalLM

    if _is_adapter_dir(str(src)):
        raise ArcError(f"{src}: is a LoRA adapter; export takes a full model folder")
    try:
        model = AutoModelForCausalLM.from_pretrained(str(src), dtype=getattr(torch, dtype))
    except (OSError, ValueError) as e:
        raise ArcError(f"cannot load model '{src}': {str(e).splitlines()[0]}") from None
    except AttributeError:
        raise ArcError(f"unknown dtype '{dtype}'") from None
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dst, max_shard_size=f"{shard_mb}MB")
    if model.config.vocab_size == VOCAB_SIZE:
        compact_tokenizer().save_pretrained(dst)
    return dst


def is_peft(model: nn.Module) -> bool:
    return hasattr(model, "peft_config")


def base_of(model: nn.Module) -> nn.Module:
    """The underlying transformers model: under a PEFT wrapper, the model it wraps (LoRA layers are
    injected into it in place); a transformers model holding adapters itself (`peft_config` but no
    wrapper) is its own."""
    get = getattr(model, "get_base_model", None)
    return get() if callable(get) else model
