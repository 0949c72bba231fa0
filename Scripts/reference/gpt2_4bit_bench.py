#!/usr/bin/env python3
"""GPT-2 small on a 4-bit base with transformers and bitsandbytes on the CPU: the reference `lora-bench`
runs beside its `small nf4` rows (shared/reference/gpt2_peft_bench.py has no 4-bit mode).

The model is GPT-2 small's shape with random weights, built once (seed 0) and saved by transformers twice
under --folder (default /tmp/lora-bench-gpt2): fp32/ as it is, and nf4/ loaded with
BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
bnb_4bit_compute_dtype=float32) and saved with save_pretrained. lora-bench's own side loads the same nf4/
folder, so both read the same bytes.

  python gpt2_4bit_bench.py --prepare                      # write the folders (once)
  python gpt2_4bit_bench.py --quant nf4 --generate 100 --prompt 16
  python gpt2_4bit_bench.py --quant none --generate 100 --prompt 16
  python gpt2_4bit_bench.py --quant nf4 --mode lora --batch 4 --seq 128   # a QLoRA step, and its peak RSS

bitsandbytes runs as a user gets it: on a CPU with AVX512-BF16 its generation uses its bfloat16 kernel.
Prints one line of key=value results.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
from transformers import BitsAndBytesConfig, GPT2Config, GPT2LMHeadModel

SMALL = dict(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024)
NF4 = dict(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
           bnb_4bit_compute_dtype=torch.float32)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(folder):
    if os.path.exists(os.path.join(folder, "nf4", "config.json")):
        return
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(**SMALL))
    model.save_pretrained(os.path.join(folder, "fp32"))
    quantized = GPT2LMHeadModel.from_pretrained(os.path.join(folder, "fp32"),
                                                quantization_config=BitsAndBytesConfig(**NF4), device_map="cpu")
    quantized.save_pretrained(os.path.join(folder, "nf4"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", default="/tmp/lora-bench-gpt2")
    ap.add_argument("--prepare", action="store_true")
    ap.add_argument("--quant", default="nf4", choices=["none", "nf4"])
    ap.add_argument("--mode", default="generate", choices=["generate", "lora"])
    ap.add_argument("--generate", type=int, default=100)
    ap.add_argument("--prompt", type=int, default=16)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--size", default="small")  # lora-bench passes it; only small is made
    a = ap.parse_args()
    if a.prepare:
        prepare(a.folder)
        print(f"prepared {a.folder}")
        return
    if not os.path.exists(os.path.join(a.folder, "nf4", "config.json")):
        # In a process of its own, so that this one's peak RSS is the run's own.
        subprocess.run([sys.executable, __file__, "--folder", a.folder, "--prepare"], check=True,
                       stdout=subprocess.DEVNULL)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.quant == "nf4":
        model = GPT2LMHeadModel.from_pretrained(os.path.join(a.folder, "nf4"), device_map="cpu")
    else:
        model = GPT2LMHeadModel.from_pretrained(os.path.join(a.folder, "fp32"))
    cfg = model.config
    if a.mode == "generate":
        model.eval()
        ids = torch.randint(0, cfg.vocab_size, (1, a.prompt))
        runs = []
        with torch.no_grad():
            model.generate(ids, max_new_tokens=2, do_sample=False, pad_token_id=0)
            for _ in range(3):
                t = time.perf_counter()
                model.generate(ids, max_new_tokens=a.generate, min_new_tokens=a.generate, do_sample=False,
                               pad_token_id=0, use_cache=True)
                runs.append(time.perf_counter() - t)
        med = statistics.median(runs)
        print(f"quant={a.quant} generate={a.generate} prompt={a.prompt} threads={a.threads} "
              f"runs_s={[round(r, 3) for r in runs]} median_s={med:.3f} tok_per_s={a.generate / med:.1f} "
              f"peak_rss_MiB={peak_rss_mib():.0f}")
        return
    from peft import LoraConfig, get_peft_model
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, target_modules=["c_attn"],
                                             bias="none", task_type="CAUSAL_LM"))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=2e-4)
    ids = torch.randint(0, cfg.vocab_size, (a.batch, a.seq))
    times = []
    for i in range(a.warmup + a.steps):
        t = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= a.warmup:
            times.append(time.perf_counter() - t)
    print(f"quant={a.quant} mode=lora batch={a.batch} seq={a.seq} step_ms_median={statistics.median(times) * 1000:.1f} "
          f"loss_last={loss.item():.3f} peak_rss_MiB={peak_rss_mib():.0f}")


if __name__ == "__main__":
    main()
