#!/usr/bin/env python3
"""Writes the PyTorch/PEFT interop fixtures with the real libraries, and checks the way back.

    python3 -m venv .venv-ref && .venv-ref/bin/pip install torch safetensors peft==0.21.*
    .venv-ref/bin/python Scripts/make-torch-fixtures.py            # writes the fixtures
    .venv-ref/bin/python Scripts/make-torch-fixtures.py --check    # also loads Swift's adapters

Everything lands in Tests/LoRATests/Fixtures/torch/, committed, so the Swift tests need no Python:

- seed000/model.safetensors: the state_dict of the char GPT's GPTLanguageModel (Karpathy's gpt.py) (a tiny one, random
  weights), saved with safetensors.torch.save_file; seed000/expected.json: its config, the input
  tokens and the logits.
- adapters/<case>/: a folder written by PEFT's save_pretrained over that model, and
  expected.json with the logits of the PEFT model (or the reason Swift must refuse it).

It also writes seeds for the safetensors fuzzer (Fuzz/Corpus/safetensors/seed-torch-*): F16, BF16,
0-d and empty tensors as PyTorch saves them.

Rerunning it rewrites the same tensors and logits byte for byte; only the order of
target_modules in adapter_config.json may change, since PEFT keeps them in a Python set.

With --check, each folder in swift-saved/ (written by the Swift test suite) is loaded by PEFT over
the same base, and its logits are compared with the ones Swift recorded beside it; and the course's
base model, Lessons/models/base-gpt.safetensors, is loaded strictly into that class and its
logits compared with swift-saved/base-gpt-logits.json.
"""

import argparse
import copy
import json
import os
import shutil
import sys
from pathlib import Path

import peft
import torch
import torch.nn as nn
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent / "Tests" / "LoRATests" / "Fixtures" / "torch"
TOLERANCE = 1e-5

# A tiny seed-000 model: the same layout, every size small, biases and norms non-trivial.
CONFIG = dict(vocab_size=65, block_size=16, n_embd=24, n_head=3, n_layer=2, dropout=0.0)
TOKENS = [[46, 1, 39, 51, 1, 58, 46, 43, 1, 49, 47, 52, 45, 6], [0, 13, 21, 1, 30, 27, 14, 27, 32, 10, 1, 32, 53, 1]]


# --- the char GPT (Karpathy's "Let's build GPT" gpt.py), parameterised ----------------------


class Head(nn.Module):
    def __init__(self, c, head_size):
        super().__init__()
        self.key = nn.Linear(c["n_embd"], head_size, bias=False)
        self.query = nn.Linear(c["n_embd"], head_size, bias=False)
        self.value = nn.Linear(c["n_embd"], head_size, bias=False)
        self.register_buffer("tril", torch.tril(torch.ones(c["block_size"], c["block_size"])))
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, x):
        B, T, C = x.shape
        k = self.key(x)
        q = self.query(x)
        wei = q @ k.transpose(-2, -1) * k.shape[-1] ** -0.5
        wei = wei.masked_fill(self.tril[:T, :T] == 0, float("-inf"))
        wei = F.softmax(wei, dim=-1)
        wei = self.dropout(wei)
        return wei @ self.value(x)


class MultiHeadAttention(nn.Module):
    def __init__(self, c, num_heads, head_size):
        super().__init__()
        self.heads = nn.ModuleList([Head(c, head_size) for _ in range(num_heads)])
        self.proj = nn.Linear(head_size * num_heads, c["n_embd"])
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, x):
        out = torch.cat([h(x) for h in self.heads], dim=-1)
        return self.dropout(self.proj(out))


class FeedFoward(nn.Module):
    def __init__(self, c):
        super().__init__()
        n = c["n_embd"]
        self.net = nn.Sequential(nn.Linear(n, 4 * n), nn.ReLU(), nn.Linear(4 * n, n), nn.Dropout(c["dropout"]))

    def forward(self, x):
        return self.net(x)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        head_size = c["n_embd"] // c["n_head"]
        self.sa = MultiHeadAttention(c, c["n_head"], head_size)
        self.ffwd = FeedFoward(c)
        self.ln1 = nn.LayerNorm(c["n_embd"])
        self.ln2 = nn.LayerNorm(c["n_embd"])

    def forward(self, x):
        x = x + self.sa(self.ln1(x))
        return x + self.ffwd(self.ln2(x))


class GPTLanguageModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.token_embedding_table = nn.Embedding(c["vocab_size"], c["n_embd"])
        self.position_embedding_table = nn.Embedding(c["block_size"], c["n_embd"])
        self.blocks = nn.Sequential(*[Block(c) for _ in range(c["n_layer"])])
        self.ln_f = nn.LayerNorm(c["n_embd"])
        self.lm_head = nn.Linear(c["n_embd"], c["vocab_size"])

    def forward(self, idx, targets=None):
        B, T = idx.shape
        x = self.token_embedding_table(idx) + self.position_embedding_table(torch.arange(T))
        x = self.blocks(x)
        logits = self.lm_head(self.ln_f(x))
        return logits, None


# --- helpers ------------------------------------------------------------------------------------


def logits_of(model):
    model.eval()
    with torch.no_grad():
        out = model(torch.tensor(TOKENS))
    return (out[0] if isinstance(out, tuple) else out).reshape(-1).tolist()


def base_model():
    torch.manual_seed(0)
    model = GPTLanguageModel(CONFIG)
    with torch.no_grad():  # norms away from 1 and 0, so that a wrong norm shows
        for name, p in model.named_parameters():
            if "ln" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model


def randomise_adapters(model, seed):
    """PEFT starts B at zero (no effect); give every adapter tensor values, so that logits show."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name or "modules_to_save" in name or "magnitude" in name:
                p.add_(0.2 * torch.randn(p.shape, generator=gen))


def write_json(path, value):
    path.write_text(json.dumps(value, indent=1) + "\n")


# Each case: a LoraConfig, and either the logits PEFT gives or the refusal Swift must give.
CASES = {
    "basic": dict(target_modules=["query", "value"], r=4, lora_alpha=8),
    "patterns": dict(
        target_modules=["query", "value", "proj"],
        r=4,
        lora_alpha=8,
        rank_pattern={"proj": 2, "blocks.1.sa.heads.0.query": 6},
        alpha_pattern={"value": 16, "blocks.0.sa.proj": 3},
    ),
    "rslora": dict(target_modules=["key", "value"], r=4, lora_alpha=8, use_rslora=True),
    "layers": dict(target_modules=["query", "net.0"], r=2, lora_alpha=4, layers_to_transform=[1], layers_pattern="blocks"),
    "modules-to-save": dict(target_modules=["query"], r=2, lora_alpha=2, modules_to_save=["lm_head"]),
    "regex": dict(target_modules=r"blocks\.\d+\.(sa\.proj|ffwd\.net\.0)", exclude_modules=["blocks.1.sa.proj"], r=3, lora_alpha=6),
    "all-linear": dict(target_modules="all-linear", exclude_modules=r".*heads\.[12]\..*", r=2, lora_alpha=4, lora_dropout=0.1),
    "fan-in-fan-out": dict(target_modules=["value"], r=2, lora_alpha=4, fan_in_fan_out=True),
    "dora": dict(target_modules=["query", "value"], r=4, lora_alpha=8, use_dora=True),
    "bias-all": dict(target_modules=["query"], r=2, lora_alpha=2, bias="all"),
    # DoRA on layers with a bias, with rsLoRA's scaling, and with dropout (inactive in eval).
    "dora-rslora": dict(target_modules=["key", "proj", "net.0"], r=4, lora_alpha=8, use_dora=True, use_rslora=True,
                        lora_dropout=0.1),
}
# Swift refuses these; the test checks that the message names the field.
REFUSED = {"bias-all": "bias"}


def write_fixtures():
    if ROOT.exists():
        for sub in ("seed000", "adapters"):
            shutil.rmtree(ROOT / sub, ignore_errors=True)
    (ROOT / "seed000").mkdir(parents=True, exist_ok=True)
    base = base_model()
    save_file(base.state_dict(), ROOT / "seed000" / "model.safetensors")
    write_json(
        ROOT / "seed000" / "expected.json",
        dict(config=CONFIG, tokens=TOKENS, logits=logits_of(base), torch=torch.__version__, peft=peft.__version__),
    )
    for index, (name, options) in enumerate(CASES.items()):
        model = get_peft_model(copy.deepcopy(base), LoraConfig(**options))
        randomise_adapters(model, seed=index)
        folder = ROOT / "adapters" / name
        model.save_pretrained(folder)
        (folder / "README.md").unlink()  # PEFT's model card: nothing the tests read
        expected = dict(logits=logits_of(model.base_model.model))
        if name in REFUSED:
            expected["refusedField"] = REFUSED[name]
        # Loading the folder back into PEFT must give the same logits: the fixture is self-consistent.
        again = PeftModel.from_pretrained(copy.deepcopy(base), folder)
        assert max_difference(logits_of(again.base_model.model), expected["logits"]) == 0, name
        write_json(folder / "expected.json", expected)
        print(f"adapters/{name}: {sorted(p.name for p in folder.iterdir())}")

    # Two adapters on one model, saved together: "default" at the root, "formal" in formal/.
    model = get_peft_model(copy.deepcopy(base), LoraConfig(target_modules=["query", "value"], r=4, lora_alpha=8))
    model.add_adapter("formal", LoraConfig(target_modules=["proj"], r=2, lora_alpha=4))
    randomise_adapters(model, seed=99)
    folder = ROOT / "adapters" / "two-adapters"
    model.save_pretrained(folder)
    (folder / "README.md").unlink()
    expected = {}
    for adapter in ("default", "formal"):
        model.set_adapter(adapter)
        expected[adapter] = logits_of(model.base_model.model)
    write_json(folder / "expected.json", expected)
    print(f"adapters/two-adapters: {sorted(p.name for p in folder.iterdir())}")
    write_fuzz_seeds()


def write_fuzz_seeds():
    """Seeds for Scripts/fuzz safetensors: real files in the dtypes and corner cases PyTorch writes."""
    folder = Path(__file__).resolve().parent.parent / "Fuzz" / "Corpus" / "safetensors"
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    tensors = {
        "half": torch.randn(3, 4, generator=generator).half(),
        "bfloat": torch.randn(2, 3, generator=generator).bfloat16(),
        "scalar": torch.tensor(1.5),
        "empty": torch.zeros(0, 4),
        "float": torch.randn(5, generator=generator),
    }
    save_file(tensors, folder / "seed-torch-dtypes.safetensors", metadata={"format": "pt"})
    save_file({"only": torch.ones(1)}, folder / "seed-torch-one.safetensors")


def max_difference(a, b):
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def check_swift_saved():
    """Every adapter the Swift tests saved loads into PEFT over the same base and gives Swift's logits."""
    folder = ROOT / "swift-saved"
    cases = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.exists() else []
    if not cases:
        sys.exit(f"{folder}: no Swift-saved adapters; run the Swift tests first (swift test --filter TorchInterop)")
    worst = 0.0
    for case in cases:
        expected = json.loads((case / "expected.json").read_text())
        base = base_model()
        model = PeftModel.from_pretrained(base, case, adapter_name="default")
        for adapter, logits in expected.items():
            if adapter != "default":
                model.load_adapter(case / adapter, adapter_name=adapter)
            model.set_adapter(adapter)
            difference = max_difference(logits_of(model.base_model.model), logits)
            worst = max(worst, difference)
            status = "ok" if difference <= TOLERANCE else "MISMATCH"
            print(f"swift-saved/{case.name} [{adapter}]: max |PEFT - Swift| = {difference:.2e} {status}")
            if difference > TOLERANCE:
                sys.exit(1)
    print(f"every Swift-saved adapter loads into PEFT {peft.__version__}: worst difference {worst:.2e}")
    check_base_model()


def check_base_model():
    """The course's base model loads strictly into the char GPT's PyTorch class and gives Swift's logits."""
    lessons = ROOT.parents[3] / "Lessons" / "models"
    description = json.loads((lessons / "base-gpt.json").read_text())["config"]
    config = dict(
        vocab_size=description["vocabSize"],
        block_size=description["blockSize"],
        n_embd=description["nEmbd"],
        n_head=description["nHead"],
        n_layer=description["nLayer"],
        dropout=0.0,
    )
    model = GPTLanguageModel(config)
    model.load_state_dict(load_file(lessons / "base-gpt.safetensors"), strict=True)
    model.eval()
    expected = json.loads((ROOT / "swift-saved" / "base-gpt-logits.json").read_text())
    with torch.no_grad():
        logits, _ = model(torch.tensor([expected["tokens"]]))
    difference = max_difference(logits.reshape(-1).tolist(), expected["logits"])
    status = "ok" if difference <= TOLERANCE else "MISMATCH"
    print(f"Lessons/models/base-gpt.safetensors in PyTorch (strict): max |PyTorch - Swift| = {difference:.2e} {status}")
    if difference > TOLERANCE:
        sys.exit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="also load the Swift-saved adapters into PEFT")
    parser.add_argument("--check-only", action="store_true", help="only load the Swift-saved adapters")
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    if not arguments.check_only:
        write_fixtures()
    if arguments.check or arguments.check_only:
        check_swift_saved()
