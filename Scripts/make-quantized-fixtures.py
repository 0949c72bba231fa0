#!/usr/bin/env python3
"""Writes the quantization fixtures with the real bitsandbytes, transformers and PEFT.

    /opt/torchenv/bin/python -m pip install bitsandbytes   # 0.50 quantizes and saves on the CPU
    /opt/torchenv/bin/python Scripts/make-quantized-fixtures.py

Everything lands in Tests/LoRATests/Fixtures/quantized/, committed, so the Swift tests need no Python.

The model is a tiny GPT-2 of its own, tiny64/ (2 layers, 64 wide, 4 heads, vocabulary 96, 32 positions,
seeded random weights), saved in float32 as transformers saves it. It is 64 wide, not 32 as
make-gpt2-fixtures.py's, because bitsandbytes' CPU kernel for dequantize_4bit gives every row the scales of
the first rows when a row is shorter than a block (in_features 32 < block size 64): a bug that real models,
whose widths are multiples of 64, never meet, and that the fixtures should not record.

- blockwise.safetensors: one seeded tensor `input` [7, 100] (10 blocks of 64 and a partial one) and
  `odd` [5, 99] (an odd count, so the codes end with a pad nibble), each quantized by
  bitsandbytes.functional.quantize_4bit as NF4 and FP4, with and without double quantization
  (compress_statistics). Each variant is stored under its name as quant_state.as_dict(packed=True)
  writes it (`nf4-nested.weight`, `nf4-nested.weight.absmax`, ...., the JSON state as a U8 tensor),
  beside `nf4-nested.dequantized`, what dequantize_4bit gives back.
- tiny-nf4-nested/, tiny-nf4/, tiny-fp4/: tiny64/ loaded by transformers with a
  BitsAndBytesConfig (compute dtype float32) and saved with save_pretrained, as a user quantizes a
  model; expected.json holds the logits of the 4-bit model on make-gpt2-fixtures.py's tokens, and
  dequantized.safetensors each 4-bit layer's weight as dequantize_4bit gives it.
- tiny-int8/: the same with load_in_8bit (LLM.int8: int8 codes per row with the row's absmax, `SCB`);
  dequantized.safetensors as int8_vectorwise_dequant gives the weights back.
- qlora-c_attn/: a PEFT LoRA adapter (r=4, alpha=8, target c_attn) over tiny-nf4-nested, with a
  random lora_B, and PEFT's logits over the 4-bit base.

With --lesson-model, only the course's 4-bit model is written, for lesson 06: Lessons/models/
gpt2-shakespeare-nf4/, the course's GPT-2 (Lessons/models/gpt2-shakespeare) loaded by transformers with
NF4 and double quantization and saved with save_pretrained, and expected.json, the 4-bit model's logits
on the tokens of "ROMEO: But soft" as transformers computes them.

With --check-only, nothing is written: swift-saved/qlora (an adapter the Swift tests make over the 4-bit
base, with the logits Swift computed) is loaded by PEFT over tiny-nf4-nested, and the logits compared.
"""

import json
import shutil
from pathlib import Path

import bitsandbytes
import bitsandbytes.functional as bnbf
import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import BitsAndBytesConfig, GPT2Config, GPT2LMHeadModel

FIXTURES = Path(__file__).resolve().parent.parent / "Tests" / "LoRATests" / "Fixtures"
ROOT = FIXTURES / "quantized"
TINY = ROOT / "tiny64"
CONFIG = dict(n_layer=2, n_embd=64, n_head=4, vocab_size=96, n_positions=32, bos_token_id=0, eos_token_id=0)
TOKENS = [[5, 17, 3, 90, 42, 8, 8, 61], [1, 2, 3, 4, 5, 6, 7, 95]]


def logits(model):
    # On a CPU with AVX512-BF16, bitsandbytes' eval-mode forward repacks the weight for a kernel
    # that computes in bfloat16 (and needs in_features a multiple of the block size). The
    # fixtures record the exact computation, dequantize_4bit then a float32 product, which is
    # what every CPU computes otherwise and what matmul_4bit computes in training.
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False
    model.eval()
    with torch.no_grad():
        out = model(torch.tensor(TOKENS)).logits
    return [round(x, 7) for x in out.float().flatten().tolist()]


def write_json(path, value):
    path.write_text(json.dumps(value, indent=1) + "\n")


def blockwise():
    torch.manual_seed(0)
    inputs = {"input": torch.randn(7, 100) * 0.05, "odd": torch.randn(5, 99)}
    # A block of zeros and one that is constant: absmax 0 and the clamp of its scale.
    inputs["input"][3, :64] = 0
    tensors = dict(inputs)
    for name, value in inputs.items():
        for quant_type in ("nf4", "fp4"):
            for nested in (False, True):
                variant = f"{name}-{quant_type}" + ("-nested" if nested else "")
                packed, state = bnbf.quantize_4bit(
                    value, blocksize=64, compress_statistics=nested, quant_type=quant_type)
                tensors[variant + ".weight"] = packed
                for key, tensor in state.as_dict(packed=True).items():
                    tensors[f"{variant}.weight.{key}"] = tensor
                tensors[variant + ".dequantized"] = bnbf.dequantize_4bit(packed, state)
    save_file({k: v.contiguous() for k, v in tensors.items()}, ROOT / "blockwise.safetensors")


def quantized_folder(name, config):
    folder = ROOT / name
    shutil.rmtree(folder, ignore_errors=True)
    model = GPT2LMHeadModel.from_pretrained(TINY, quantization_config=config, device_map="cpu")
    model.save_pretrained(folder)
    dequantized = {}
    for module_name, module in model.named_modules():
        if isinstance(module, bitsandbytes.nn.Linear4bit):
            weight = module.weight
            dequantized[module_name + ".weight"] = bnbf.dequantize_4bit(weight.data, weight.quant_state)
        elif isinstance(module, bitsandbytes.nn.Linear8bitLt):
            weight = module.weight
            dequantized[module_name + ".weight"] = bnbf.int8_vectorwise_dequant(weight.data, weight.SCB)
    save_file({k: v.contiguous() for k, v in dequantized.items()}, folder / "dequantized.safetensors")
    write_json(folder / "expected.json", dict(tokens=TOKENS, logits=logits(model)))
    return model


def main():
    ROOT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    shutil.rmtree(TINY, ignore_errors=True)
    model = GPT2LMHeadModel(GPT2Config(**CONFIG))
    model.save_pretrained(TINY)
    write_json(TINY / "expected.json", dict(tokens=TOKENS, logits=logits(model)))
    blockwise()
    four_bit = lambda quant_type, nested: BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type=quant_type, bnb_4bit_use_double_quant=nested,
        bnb_4bit_compute_dtype=torch.float32)
    base = quantized_folder("tiny-nf4-nested", four_bit("nf4", True))
    quantized_folder("tiny-nf4", four_bit("nf4", False))
    quantized_folder("tiny-fp4", four_bit("fp4", False))
    try:
        quantized_folder("tiny-int8", BitsAndBytesConfig(load_in_8bit=True))
    except Exception as error:  # noqa: BLE001: recorded, so the Swift side can say why
        shutil.rmtree(ROOT / "tiny-int8", ignore_errors=True)
        (ROOT / "int8-unsupported.txt").write_text(f"{type(error).__name__}: {error}\n")

    torch.manual_seed(1)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn"], lora_dropout=0.0, fan_in_fan_out=False)
    model = get_peft_model(base, config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.1)
    folder = ROOT / "qlora-c_attn"
    shutil.rmtree(folder, ignore_errors=True)
    model.save_pretrained(folder)
    (folder / "README.md").unlink()  # PEFT's model card: nothing the tests read
    # The base's path on the machine that wrote it means nothing elsewhere.
    config_path = folder / "adapter_config.json"
    adapter_config = json.loads(config_path.read_text())
    adapter_config["base_model_name_or_path"] = "tiny-nf4-nested"  # its own path means nothing elsewhere
    write_json(config_path, adapter_config)
    write_json(folder / "expected.json", dict(tokens=TOKENS, logits=logits(model)))
    versions = dict(torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__,
                    bitsandbytes=bitsandbytes.__version__)
    write_json(ROOT / "versions.json", versions)
    print("wrote", ROOT, versions)


def check_swift_saved():
    folder = ROOT / "swift-saved" / "qlora"
    expected = json.loads((folder / "expected.json").read_text())
    base = GPT2LMHeadModel.from_pretrained(ROOT / "tiny-nf4-nested", device_map="cpu")
    model = peft.PeftModel.from_pretrained(base, folder)
    ours = logits(model)
    difference = max(abs(a - b) for a, b in zip(ours, expected["logits"]))
    print(f"swift-saved/qlora over tiny-nf4-nested in PEFT {peft.__version__}: max |PEFT - Swift| = {difference:.2e}")
    assert difference < 1e-4, difference


def lesson_model():
    lessons = FIXTURES.parent.parent.parent / "Lessons" / "models"
    folder = lessons / "gpt2-shakespeare-nf4"
    shutil.rmtree(folder, ignore_errors=True)
    config = BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.float32)
    model = GPT2LMHeadModel.from_pretrained(
        lessons / "gpt2-shakespeare", quantization_config=config, device_map="cpu")
    model.save_pretrained(folder)
    from transformers import AutoTokenizer
    tokens = AutoTokenizer.from_pretrained(lessons / "gpt2-shakespeare")("ROMEO: But soft")["input_ids"]
    global TOKENS
    TOKENS = [tokens]
    write_json(folder / "expected.json", dict(
        tokens=tokens, logits=logits(model),
        versions=dict(torch=torch.__version__, transformers=transformers.__version__,
                      bitsandbytes=bitsandbytes.__version__)))


if __name__ == "__main__":
    import sys
    if "--check-only" in sys.argv:
        check_swift_saved()
    elif "--lesson-model" in sys.argv:
        lesson_model()
    else:
        main()
