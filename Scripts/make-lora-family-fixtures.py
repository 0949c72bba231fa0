#!/usr/bin/env python3
"""Writes the fixtures of LoRA's variants with the real PEFT and transformers.

    /opt/torchenv/bin/python Scripts/make-lora-family-fixtures.py

Everything lands in Tests/LoRATests/Fixtures/lora-family/, committed, so the Swift tests need no Python.
The model is the tiny GPT-2 of make-gpt2-fixtures.py (Fixtures/gpt2/tiny), which must exist first.

- loraplus/: LoRA+ as PEFT's create_loraplus_optimizer builds it (ratio 16, loraplus_weight_decay 0.01)
  over LoRA on c_attn (r=4, alpha=8) with a trainable copy of ln_f (modules_to_save), so that all of
  PEFT's groups hold something. initial/ is the adapter before training (lora_B random, so A's gradient is
  not zero), trained/ after 3 AdamW steps on fixed tokens (the model in eval mode: no dropout), and
  groups.json the parameter names PEFT put in each group with its lr and weight decay.
- dora-gpt2/: DoRA (use_dora=True) on c_attn and c_proj (Conv1D, fan_in_fan_out=True, with biases), lora_B
  random and the magnitudes moved away from the norms they start at; expected.json holds PEFT's logits.
  The char-level GPT's DoRA adapters are make-torch-fixtures.py's.
- pissa-char/, olora-char/, pissa-gpt2/: get_peft_model with init_lora_weights="pissa" or "olora" over the
  char-level GPT of make-torch-fixtures.py (its random weights from seed 0: Fixtures/torch/seed000) and over the tiny
  GPT-2. initial.safetensors holds, for each adapted module, the A and B PEFT started from and the residual
  base weight it left (<module>.lora_A, <module>.lora_B, <module>.residual, the weight as the layer
  stores it); then lora_B moves (as training would), the adapter is saved, and expected.json holds PEFT's
  logits. Loading such an adapter, PEFT factors the given (original) base again and loads A and B over it.
"""

import importlib.util
import json
import shutil
from pathlib import Path

import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model
from peft.optimizers import create_loraplus_optimizer
from peft.tuners.lora import LoraLayer
from safetensors.torch import save_file
from transformers import GPT2LMHeadModel

FIXTURES = Path(__file__).resolve().parent.parent / "Tests" / "LoRATests" / "Fixtures"
ROOT = FIXTURES / "lora-family"
TINY = FIXTURES / "gpt2" / "tiny"
TOKENS = [[5, 17, 3, 90, 42, 8, 8, 61], [1, 2, 3, 4, 5, 6, 7, 95]]


def write_json(path, value):
    path.write_text(json.dumps(value, indent=1) + "\n")


def save_adapter(model, folder):
    shutil.rmtree(folder, ignore_errors=True)
    model.save_pretrained(folder)
    (folder / "README.md").unlink()  # PEFT's model card: nothing the tests read
    config_path = folder / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = "gpt2/tiny"  # the path that wrote it means nothing elsewhere
    write_json(config_path, config)


def loraplus():
    folder = ROOT / "loraplus"
    torch.manual_seed(2)
    model = GPT2LMHeadModel.from_pretrained(TINY)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn"], fan_in_fan_out=True, lora_dropout=0.0,
                        modules_to_save=["ln_f"])
    model = get_peft_model(model, config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.1)
    save_adapter(model, folder / "initial")
    optimizer = create_loraplus_optimizer(model, torch.optim.AdamW, lr=1e-3, loraplus_lr_ratio=16,
                                          loraplus_weight_decay=0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    groups = [dict(lr=g["lr"], weight_decay=g["weight_decay"], params=sorted(names[id(p)] for p in g["params"]))
              for g in optimizer.param_groups]
    write_json(folder / "groups.json", groups)
    model.eval()  # no dropout; gradients flow all the same
    ids = torch.tensor(TOKENS)
    losses = []
    for _ in range(3):
        loss = model(ids, labels=ids).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    save_adapter(model, folder / "trained")
    write_json(folder / "expected.json", dict(tokens=TOKENS, losses=losses))


def logits(model):
    model.eval()
    with torch.no_grad():
        return [round(x, 7) for x in model(torch.tensor(TOKENS)).logits.flatten().tolist()]


def dora_gpt2():
    folder = ROOT / "dora-gpt2"
    torch.manual_seed(3)
    model = GPT2LMHeadModel.from_pretrained(TINY)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn", "c_proj"], fan_in_fan_out=True,
                        lora_dropout=0.0, use_dora=True)
    model = get_peft_model(model, config)
    generator = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(0.1 * torch.randn(parameter.shape, generator=generator))
            if "magnitude" in name:
                parameter.mul_(1 + 0.2 * torch.randn(parameter.shape, generator=generator))
    save_adapter(model, folder)
    write_json(folder / "expected.json", dict(tokens=TOKENS, logits=logits(model)))


def char_gpt():
    """make-torch-fixtures.py's base model: the char-level GPT of the Russian tutorial, small."""
    path = Path(__file__).resolve().parent / "make-torch-fixtures.py"
    spec = importlib.util.spec_from_file_location("torch_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.base_model(), module.TOKENS


def factored(name, model, tokens, config):
    folder = ROOT / name
    model = get_peft_model(model, config)
    initial = {}
    for module_name, module in model.base_model.model.named_modules():
        if isinstance(module, LoraLayer):
            initial[module_name + ".lora_A"] = module.lora_A["default"].weight.detach().clone()
            initial[module_name + ".lora_B"] = module.lora_B["default"].weight.detach().clone()
            initial[module_name + ".residual"] = module.base_layer.weight.detach().clone()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in initial.items()}, folder / "initial.safetensors")
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for parameter_name, parameter in model.named_parameters():
            if "lora_B" in parameter_name:
                parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    save_adapter(model, folder / "adapter")
    model.eval()
    with torch.no_grad():
        out = model(torch.tensor(tokens))
        out = out.logits if hasattr(out, "logits") else (out[0] if isinstance(out, tuple) else out)
    write_json(folder / "expected.json", dict(tokens=tokens, logits=[round(x, 7) for x in out.flatten().tolist()]))


def main():
    ROOT.mkdir(parents=True, exist_ok=True)
    loraplus()
    dora_gpt2()
    base, tokens = char_gpt()
    factored("pissa-char", base, tokens, LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value", "proj"],
                                                    init_lora_weights="pissa"))
    base, tokens = char_gpt()
    factored("olora-char", base, tokens, LoraConfig(r=4, lora_alpha=8, target_modules=["key", "net.0"],
                                                    init_lora_weights="olora"))
    factored("pissa-gpt2", GPT2LMHeadModel.from_pretrained(TINY), TOKENS,
             LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn", "c_proj"], fan_in_fan_out=True,
                        init_lora_weights="pissa"))
    versions = dict(torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__)
    write_json(ROOT / "versions.json", versions)
    print("wrote", ROOT, versions)


if __name__ == "__main__":
    main()
