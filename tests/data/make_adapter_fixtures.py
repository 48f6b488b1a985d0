#!/usr/bin/env python3
"""Writes the LoRA and X-LoRA fixtures in tests/data/adapters/ (not run in CI).

The bases are the tiny random models of tests/data/models/<arch>/hf (llama, qwen2, gemma3; made
by make_model_fixtures.py, each with a GGUF copy next to it). For each base this script writes
to tests/data/adapters/<arch>/:

    lora_a/, lora_b/, lora_c/   PEFT LoRA folders (adapter_config.json + adapter_model.safetensors)
                                with random A and B:
                                  lora_a: q_proj, v_proj; r 4, alpha 8
                                  lora_b: every linear layer; r 8, alpha 16, use_rslora
                                  lora_c: k_proj, o_proj, up_proj, down_proj; r 6, alpha 3,
                                          rank_pattern {down_proj: 2}, alpha_pattern
                                          {o_proj: 12, layers.1.self_attn.k_proj: 5},
                                          fan_in_fan_out requested (PEFT turns it off for
                                          nn.Linear and saves false)
    lora_a.gguf                 llama only: lora_a in llama.cpp's GGUF adapter layout, written
                                the way convert_lora_to_gguf.py writes it (Q/K lora_b rows
                                permuted like the base's Q/K rows)
    xlora_<name>/               PEFT X-LoRA folders: adapter_config.json (peft_type XLORA, the
                                experts as paths relative to this folder: ../lora_a, ...) and
                                adapter_model.safetensors (the classifier,
                                base_model.internal_xlora_classifier.layers.<k>.{weight,bias})
    expected.npz                PEFT's outputs (float32), keys:
        tokens                      int32 [24]  the input of every LoRA check
        lora_<x>                    [24, 256]   logits with that one adapter active
        lora_<x>_scale              [24, 256]   the same adapter with its scaling times 0.5
        mix_tokens/mix_weights      which adapters and weights make the next one
        mix                         [24, 256]   add_weighted_adapter(..., combination_type="cat"):
                                                y = W x + sum_a w_a s_a B_a A_a x
        xlora_<name>_seq            int32 [40]  8 prompt tokens + 32 greedy tokens
        xlora_<name>_step_logits    [33, 256]   logits of positions 7..39, each from a full
                                                recompute of the sequence up to it (PEFT's only
                                                mode: no KV cache)
        xlora_<name>_logits         [40, 256]   all positions of the final full forward
        xlora_<name>_scalings       [40, L, N]  get_latest_scalings() of that forward (after the
                                                classifier's softmax, before per-layer top-k)

Semantics pinned here (docs/adapters.md): xtral's set_adapters(names, weights) means
y = W x + sum_a w_a * s_a * B_a A_a x, which is PEFT with those adapters active and each
adapter's per-module scaling multiplied by w_a, and also what add_weighted_adapter with
combination_type="cat" computes (this script checks that the two agree).

Needs torch, transformers, peft, numpy, safetensors and gguf, best in a separate virtual
environment:

    /tmp/hfvenv/bin/pip install peft
    /tmp/hfvenv/bin/python tests/data/make_adapter_fixtures.py
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models"
OUT = HERE / "adapters"
ARCHS = ("llama", "qwen2", "gemma3")
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

LORAS: dict[str, dict[str, Any]] = {
    "lora_a": dict(target_modules=["q_proj", "v_proj"], r=4, lora_alpha=8),
    "lora_b": dict(target_modules=ALL_LINEAR, r=8, lora_alpha=16, use_rslora=True),
    "lora_c": dict(target_modules=["k_proj", "o_proj", "up_proj", "down_proj"], r=6,
                   lora_alpha=3, rank_pattern={"down_proj": 2},
                   alpha_pattern={"o_proj": 12, "layers.1.self_attn.k_proj": 5},
                   fan_in_fan_out=True),
}
MIX = (["lora_a", "lora_c"], [0.7, -0.4])

# X-LoRA configurations over the three experts (lora_a, lora_b, lora_c).
XLORAS: dict[str, dict[str, Any]] = {
    # depth 1, one row for every layer, temperature != 1
    "d1": dict(xlora_depth=1, layerwise_scalings=False, softmax_temperature=0.7),
    # depth 2, layerwise, top-k 2 without softmax over the top-k, global_scaling_weight != 1
    "d2_topk": dict(xlora_depth=2, xlora_size=16, layerwise_scalings=True, top_k_lora=2,
                    global_scaling_weight=1.5, softmax_temperature=1.3),
    # depth 1, layerwise, top-k 2 then a softmax over the kept entries (no softmax before)
    "d1_topk_softmax": dict(xlora_depth=1, layerwise_scalings=True, top_k_lora=2,
                            enable_softmax=False, enable_softmax_topk=True),
    # depth 3, not layerwise, top-k 1 with softmax over it, scaling pass value != 0
    "d3_top1": dict(xlora_depth=3, xlora_size=12, layerwise_scalings=False, top_k_lora=1,
                    enable_softmax_topk=True, softmax_temperature=2.0),
    # scaling pass value != 0 (experts run in pass 1), gsw != 1
    "d1_pass": dict(xlora_depth=1, layerwise_scalings=True, scaling_pass_value=0.25,
                    global_scaling_weight=0.8, softmax_temperature=0.5),
}
XLORAS_PER_ARCH = {"llama": list(XLORAS), "qwen2": ["d1", "d2_topk"],
                   "gemma3": ["d1_topk_softmax", "d1_pass"]}
PROMPT, N_GEN = 8, 32


def _randomize_lora(model: Any, name: str, seed: int) -> None:
    import torch
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if f".{name}." in pname and ("lora_A" in pname or "lora_B" in pname):
                p.copy_(0.15 * torch.randn(p.shape, generator=g))


def _logits(model: Any, ids: np.ndarray) -> np.ndarray:
    import torch
    with torch.no_grad():
        return model(input_ids=torch.tensor(ids[None].astype(np.int64))).logits[0].float().numpy()


def _base(arch: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM
    m = AutoModelForCausalLM.from_pretrained(MODELS / arch / "hf", attn_implementation="eager",
                                             dtype=torch.float32)
    m.config.use_cache = False
    return m.eval()


def make_loras(arch: str, d: Path, tokens: np.ndarray, out: dict[str, np.ndarray]) -> None:
    import warnings

    from peft import LoraConfig, PeftModel, get_peft_model
    for i, (name, kw) in enumerate(LORAS.items()):
        base = _base(arch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pm = get_peft_model(base, LoraConfig(task_type="CAUSAL_LM", **kw), adapter_name=name)
        _randomize_lora(pm, name, seed=1000 * (ARCHS.index(arch) + 1) + i)
        pm.eval()
        pm.save_pretrained(d)  # writes d/<name>/ for a non-default adapter name
        want = _logits(pm, tokens)
        re = PeftModel.from_pretrained(_base(arch), d / name).eval()
        got = _logits(re, tokens)
        assert np.array_equal(got, want), f"{arch}/{name}: reloaded adapter differs"
        out[name] = want
        # a user scale (xtral add_adapter(scale=0.5)): every module's scaling times 0.5
        for mod in re.modules():
            if hasattr(mod, "scaling") and isinstance(mod.scaling, dict):
                for k in mod.scaling:
                    mod.scaling[k] *= 0.5
        out[f"{name}_scale"] = _logits(re, tokens)
    # several adapters at once, with weights
    names, weights = MIX
    pm = PeftModel.from_pretrained(_base(arch), d / names[0], adapter_name=names[0])
    for n in names[1:]:
        pm.load_adapter(d / n, adapter_name=n)
    pm.base_model.set_adapter(names)
    for mod in pm.modules():
        if hasattr(mod, "scaling") and isinstance(mod.scaling, dict):
            for n, w in zip(names, weights):
                if n in mod.scaling:
                    mod.scaling[n] *= w
    active = _logits(pm.eval(), tokens)
    pm = PeftModel.from_pretrained(_base(arch), d / names[0], adapter_name=names[0])
    for n in names[1:]:
        pm.load_adapter(d / n, adapter_name=n)
    pm.add_weighted_adapter(names, weights, "mix", combination_type="cat")
    pm.set_adapter("mix")
    mix = _logits(pm.eval(), tokens)
    assert np.abs(mix - active).max() < 1e-4, f"{arch}: cat != scaled active set"
    out["mix"] = mix
    out["mix_weights"] = np.array(weights, np.float32)


def make_xlora(arch: str, d: Path, name: str, kw: dict[str, Any], seed: int,
               prompt: np.ndarray, out: dict[str, np.ndarray]) -> None:
    import torch
    from peft import XLoraConfig, get_peft_model
    from safetensors.torch import save_file
    base = _base(arch)
    experts = {str(i): str(d / n) for i, n in enumerate(LORAS)}
    cfg = XLoraConfig(task_type="CAUSAL_LM", hidden_size=base.config.hidden_size,
                      adapters=experts, **kw)
    xm = get_peft_model(base, cfg).eval()
    clf = xm.base_model.internal_xlora_classifier
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in clf.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=g))
    seq = list(int(t) for t in prompt)
    steps = []
    for _ in range(N_GEN + 1):
        logits = _logits(xm, np.array(seq))
        steps.append(logits[-1])
        if len(steps) <= N_GEN:
            seq.append(int(logits[-1].argmax()))
    seq_np = np.array(seq, np.int32)
    final = _logits(xm, seq_np)
    scal = xm.get_latest_scalings()[0].float().numpy()
    assert scal.shape[0] == len(seq)
    key = f"xlora_{name}"
    out[f"{key}_seq"] = seq_np
    out[f"{key}_step_logits"] = np.stack(steps).astype(np.float32)
    out[f"{key}_logits"] = final
    out[f"{key}_scalings"] = scal.astype(np.float32)
    # the folder: PEFT's config with the experts as paths relative to it, and the classifier
    xd = d / key
    xd.mkdir()
    conf = cfg.to_dict()
    conf["adapters"] = {str(i): f"../{n}" for i, n in enumerate(LORAS)}
    conf["peft_type"] = "XLORA"
    conf["base_model_name_or_path"] = f"tests/data/models/{arch}/hf"
    for k in list(conf):
        if isinstance(conf[k], set):
            conf[k] = sorted(conf[k])
    (xd / "adapter_config.json").write_text(json.dumps(conf, indent=2, default=str) + "\n")
    sd = {f"base_model.internal_xlora_classifier.{k}": v.detach().contiguous()
          for k, v in clf.state_dict().items()}
    save_file(sd, xd / "adapter_model.safetensors")


def tidy(arch: str, d: Path) -> None:
    """Drops save_pretrained's model cards; the base path in each config becomes relative."""
    for f in d.rglob("README.md"):
        f.unlink()
    for n in LORAS:
        f = d / n / "adapter_config.json"
        cfg = json.loads(f.read_text())
        cfg["base_model_name_or_path"] = f"tests/data/models/{arch}/hf"
        f.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def llama_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf LlamaModel.permute (rows of Q/K, rotate-half -> interleaved)."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def write_gguf_lora(arch: str, folder: Path, path: Path) -> None:
    """llama.cpp's convert_lora_to_gguf.py layout: general.type=adapter, adapter.type=lora,
    adapter.lora.alpha; '<base tensor>.lora_a' ([r, in], ne = [in, r]) and '.lora_b'
    ([out, r], ne = [r, out]), F32; Q/K lora_b rows permuted like the base's Q/K rows."""
    import gguf
    from safetensors.numpy import load_file
    cfg = json.loads((folder / "adapter_config.json").read_text())
    hp = json.loads((MODELS / arch / "hf" / "config.json").read_text())
    n_head, n_kv = hp["num_attention_heads"], hp["num_key_value_heads"]
    roles = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
             "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}
    w = gguf.GGUFWriter(path, arch)
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(cfg["lora_alpha"]))
    for key, t in sorted(load_file(folder / "adapter_model.safetensors").items()):
        parts = key.split(".")          # base_model.model.model.layers.N.<grp>.<proj>.lora_X.weight
        layer, proj, ab = int(parts[4]), parts[6], parts[7]
        t = t.astype(np.float32)
        if ab == "lora_B" and arch == "llama" and proj in ("q_proj", "k_proj"):
            t = llama_permute(t, n_head if proj == "q_proj" else n_kv)
        name = f"blk.{layer}.{roles[proj]}.weight.{'lora_a' if ab == 'lora_A' else 'lora_b'}"
        w.add_tensor(name, np.ascontiguousarray(t))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> int:
    import peft
    import torch
    import transformers
    torch.manual_seed(0)
    for ai, arch in enumerate(ARCHS):
        d = OUT / arch
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        tokens = np.load(MODELS / arch / "tokens.npy")[0].astype(np.int32)
        out: dict[str, np.ndarray] = {"tokens": tokens}
        make_loras(arch, d, tokens, out)
        tidy(arch, d)
        if arch == "llama":
            write_gguf_lora(arch, d / "lora_a", d / "lora_a.gguf")
        for xi, name in enumerate(XLORAS_PER_ARCH[arch]):
            make_xlora(arch, d, name, XLORAS[name], 500 + 10 * ai + xi, tokens[:PROMPT], out)
        np.savez_compressed(d / "expected.npz", **out)
        print(f"{arch}: wrote {d.relative_to(HERE)}")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"peft {peft.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
