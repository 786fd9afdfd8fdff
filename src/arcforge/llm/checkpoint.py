"""Carrying a training run's checkpoint to another machine in files small enough for tools that
move at most 16 MiB a file (`arcforge export-checkpoint`, `arcforge train --resume-from`): see
llm/train.py's docstring for the round trip. Also `replace_dir`, the crash-safe swap of a folder
that every checkpoint write goes through."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from arcforge.errors import ArcError


def replace_dir(tmp: Path, final: Path) -> Path:
    """Put the finished folder `tmp` in place of `final`: the old one is moved aside first and removed
    last, so a crash in between leaves either folder whole."""
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


EXPORT_FORMAT = "arcforge-checkpoint/1"


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _run_base(run: Path, state: dict) -> Path | None:
    """The adapter's base folder when it lives inside the run (a LoRA run from a fresh shape): it has to
    travel with the checkpoint. Other bases (hub ids, folders elsewhere) are referred to by name."""
    base = state.get("base")
    if not base or not Path(base).is_dir() or not (run / "checkpoint" / "adapter_config.json").is_file():
        return None
    base = Path(base).resolve()
    return base if base.is_relative_to(run.resolve()) else None


def export_checkpoint(run: str | Path, dst: str | Path, full: bool = False, shard_mb: int = 15) -> Path:
    """Write RUN/checkpoint to `dst` as files of at most shard_mb MB each (10**6 bytes), to carry it to
    another machine: the weights as safetensors shards (bf16, or with `full` the saved dtype), meta.json
    (state.json, the folder's small files, each tensor's file and dtype), with `full` trainer.pt
    (optimiser and schedule) cut into parts, and manifest.json listing every file's size and sha256.
    A LoRA run's adapter goes like a full model's weights; a base saved inside the run (run/base)
    goes too. `train(cfg, resume_from=dst)` continues the run from it."""
    from safetensors.torch import load_file, save_file

    run, dst = Path(run), Path(dst)
    ck = run / "checkpoint"
    if not (ck / "state.json").is_file():
        raise ArcError(f"{run}: no checkpoint to export (expected {ck}/state.json)")
    if dst.exists() and any(dst.iterdir()) and not (dst / "manifest.json").is_file():
        raise ArcError(f"{dst}: exists and is not an exported checkpoint; choose another destination")
    limit = shard_mb * 10**6
    state = json.loads((ck / "state.json").read_text())
    folders = {"checkpoint": ck}
    if (base := _run_base(run, state)) is not None:
        folders["base"] = base
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    meta = {"format": EXPORT_FORMAT, "step": state["step"], "full": full, "state": state, "texts": {},
            "tensors": {}, "trainer": []}
    tensors = {}  # "folder/file/name" -> tensor, in file order
    for key, folder in folders.items():
        for f in sorted(folder.iterdir()):
            rel = f"{key}/{f.name}"
            if f.is_dir():
                raise ArcError(f"{f}: unexpected folder in a checkpoint; cannot export it")
            if f.suffix == ".safetensors":
                for name, t in load_file(f).items():
                    meta["tensors"][f"{rel}/{name}"] = str(t.dtype).removeprefix("torch.")
                    cast = not full and t.is_floating_point()
                    tensors[f"{rel}/{name}"] = t.to(torch.bfloat16) if cast else t
            elif f.name == "trainer.pt":
                if full:  # byte parts: the optimiser state restored exactly
                    data = f.read_bytes()
                    for i in range(0, max(len(data), 1), limit):
                        part = f"trainer.pt.{i // limit:03d}"
                        (tmp / part).write_bytes(data[i:i + limit])
                        meta["trainer"].append(part)
            elif f.name != "state.json":
                meta["texts"][rel] = f.read_text()
    # weights: greedy shards under the limit (a header entry costs ~100 bytes + the name)
    shards, size = [{}], 0
    for k, t in tensors.items():
        cost = t.numel() * t.element_size() + 200 + len(k)
        if shards[-1] and size + cost > limit - 1000:
            shards.append({})
            size = 0
        shards[-1][k], size = t.contiguous(), size + cost
    for i, shard in enumerate(shards):
        save_file(shard, tmp / f"weights-{i + 1:05d}-of-{len(shards):05d}.safetensors", metadata={"format": "pt"})
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    files = []
    for f in sorted(tmp.iterdir()):
        if f.stat().st_size > limit:
            shutil.rmtree(tmp)
            raise ArcError(f"{f.name} would be {f.stat().st_size} bytes, over --shard-mb {shard_mb}; raise it")
        files.append({"name": f.name, "size": f.stat().st_size, "sha256": _sha256(f)})
    (tmp / "manifest.json").write_text(json.dumps({"format": EXPORT_FORMAT, "step": state["step"], "full": full,
                                                   "files": files}, indent=1))
    return replace_dir(tmp, dst)


def read_export(src: str | Path) -> dict:
    """meta.json of an exported checkpoint, after checking every file of its manifest (size, sha256)."""
    src = Path(src)
    try:
        manifest = json.loads((src / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        raise ArcError(f"{src}: not an exported checkpoint (manifest.json: {e})") from None
    for f in manifest.get("files", []):
        path = src / f["name"]
        if not path.is_file():
            raise ArcError(f"{path}: missing (listed in manifest.json)")
        if path.stat().st_size != f["size"]:
            raise ArcError(f"{path}: {path.stat().st_size} bytes, manifest.json says {f['size']} (incomplete copy?)")
        if _sha256(path) != f["sha256"]:
            raise ArcError(f"{path}: sha256 does not match manifest.json (corrupted copy)")
    meta = json.loads((src / "meta.json").read_text())
    if meta.get("format") != EXPORT_FORMAT:
        raise ArcError(f"{src}: unknown export format {meta.get('format')!r}")
    return meta


def import_checkpoint(src: str | Path, out: Path) -> dict:
    """Rebuild out/checkpoint (and out/base for a LoRA run that carried its base) from an exported
    checkpoint: tensors back in their saved dtype, trainer.pt only if it was exported. Returns the state."""
    from safetensors.torch import load_file, save_file

    src = Path(src)
    meta = read_export(src)
    shards = {}
    for f in sorted(src.glob("weights-*.safetensors")):
        shards.update(load_file(f))
    by_file: dict[str, dict] = {}
    for key, dtype in meta["tensors"].items():
        folder, name, tensor = key.split("/", 2)
        by_file.setdefault(f"{folder}/{name}", {})[tensor] = shards[key].to(getattr(torch, dtype))
    state = dict(meta["state"])
    dirs = {"checkpoint": out / "checkpoint.tmp", "base": out / "base"}
    texts = dict(meta["texts"])
    if any(k.startswith("base/") for k in [*texts, *meta["tensors"]]):  # the carried base lands in out/base: point at it
        state["base"] = str(dirs["base"].resolve())
        cfg_key = "checkpoint/adapter_config.json"
        adapter = json.loads(texts[cfg_key])
        adapter["base_model_name_or_path"] = state["base"]
        texts[cfg_key] = json.dumps(adapter, indent=2)
    for d in dirs.values():
        shutil.rmtree(d, ignore_errors=True)
    for rel, text in texts.items():
        folder, name = rel.split("/", 1)
        dirs[folder].mkdir(parents=True, exist_ok=True)
        (dirs[folder] / name).write_text(text)
    for rel, tensors in by_file.items():
        folder, name = rel.split("/", 1)
        dirs[folder].mkdir(parents=True, exist_ok=True)
        save_file(tensors, dirs[folder] / name, metadata={"format": "pt"})
    if meta["trainer"]:
        with open(dirs["checkpoint"] / "trainer.pt", "wb") as f:
            for part in meta["trainer"]:
                f.write((src / part).read_bytes())
    (dirs["checkpoint"] / "state.json").write_text(json.dumps(state, indent=1))
    dirs["checkpoint"].rename(out / "checkpoint")
    return state


# ---- the whole run ----
