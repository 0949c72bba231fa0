#!/usr/bin/env python3
"""Writes the GPT-2 interop fixtures with the real transformers, PEFT and safetensors.

    /opt/torchenv/bin/python Scripts/make-gpt2-fixtures.py   # a venv with torch, transformers, peft, safetensors
    LORA_UPDATE_FIXTURES=1 swift test -c release --filter GPT2Tests   # writes swift-saved/c_attn
    /opt/torchenv/bin/python Scripts/make-gpt2-fixtures.py --check-only   # PEFT loads what Swift saved

Everything lands in Tests/LoRATests/Fixtures/gpt2/, committed, so the Swift tests need no Python.
The model is a tiny GPT2LMHeadModel (2 layers, 32 wide, 4 heads, vocabulary 96, 32 positions) with
seeded random weights; its logits, its loss with labels, and its loss with labels partly -100
(ignored, as padding is) are recorded beside each folder.

- tiny/: save_pretrained as transformers writes it (config.json, model.safetensors with keys
  "transformer.h.0.attn.c_attn.weight", ..., lm_head tied to wte so not stored).
- tiny-sharded/: the same model with max_shard_size small, so model.safetensors.index.json and
  several shards.
- tiny-f16/, tiny-bf16/: saved in half precision; the expected logits are those of the half weights
  upcast to float32.
- tiny-hub-layout/: the layout of the original "gpt2" checkpoint on the hub: keys without
  "transformer.", plus the attn.bias (causal mask) and attn.masked_bias buffers older transformers saved.
- tiny-bin-only/: pytorch_model.bin alone (torch.save of the state_dict), which Swift must refuse with the
  command that converts it.
- tokenizer/: a byte-level BPE (1,000 tokens) that Hugging Face tokenizers trains on Tiny Shakespeare with
  GPT-2's pre-tokenizer, as vocab.json + merges.txt and tokenizer.json, and the ids transformers'
  GPT2Tokenizer and tokenizers' Tokenizer (which agree) give for texts that exercise every rule.
- lora-c_attn/, lora-c_attn-c_proj/: PEFT adapters over tiny/ (the targets of the Russian PEFT
  overview, c_attn, and of the Chinese teaching guide, c_attn + c_proj; fan_in_fan_out=True as PEFT
  needs for Conv1D), with random lora_B so they change the logits.
"""

import json
import shutil
from pathlib import Path

import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel

ROOT = Path(__file__).resolve().parent.parent / "Tests" / "LoRATests" / "Fixtures" / "gpt2"
CONFIG = dict(n_layer=2, n_embd=32, n_head=4, vocab_size=96, n_positions=32, bos_token_id=0, eos_token_id=0)
TOKENS = [[5, 17, 3, 90, 42, 8, 8, 61], [1, 2, 3, 4, 5, 6, 7, 95]]
# Labels of -100 are left out of the loss (padding, in Hugging Face's convention).
PADDED_LABELS = [[5, 17, 3, -100, -100, 8, 8, 61], [-100, 2, 3, 4, 5, 6, -100, -100]]


def run(model):
    model.eval()
    with torch.no_grad():
        ids = torch.tensor(TOKENS)
        out = model(ids, labels=ids)
        padded = model(ids, labels=torch.tensor(PADDED_LABELS)).loss.item()
    return dict(logits=[round(x, 7) for x in out.logits.flatten().tolist()], loss=out.loss.item(),
                padded_labels=PADDED_LABELS, padded_loss=padded)


def write_json(path, value):
    path.write_text(json.dumps(value, indent=1) + "\n")


def record(folder, model, **extra):
    write_json(folder / "expected.json", dict(tokens=TOKENS, **run(model), **extra,
                                              transformers=transformers.__version__, torch=torch.__version__))


def main():
    for folder in ROOT.glob("*"):
        if folder.name != "swift-saved":
            shutil.rmtree(folder)
    ROOT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(**CONFIG))
    # Non-trivial layer norms and biases, so that loading them wrongly shows in the logits.
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "ln" in name or name.endswith(".bias"):
                parameter.add_(0.1 * torch.randn_like(parameter))

    model.save_pretrained(ROOT / "tiny")
    record(ROOT / "tiny", model)

    model.save_pretrained(ROOT / "tiny-sharded", max_shard_size="40KB")
    record(ROOT / "tiny-sharded", model)

    for dtype, name in [(torch.float16, "tiny-f16"), (torch.bfloat16, "tiny-bf16")]:
        half = GPT2LMHeadModel(GPT2Config(**CONFIG))
        half.load_state_dict(model.state_dict())
        half.to(dtype).save_pretrained(ROOT / name)
        record(ROOT / name, half.to(torch.float32))

    hub = ROOT / "tiny-hub-layout"
    hub.mkdir()
    shutil.copy(ROOT / "tiny" / "config.json", hub / "config.json")
    state = {k.removeprefix("transformer."): v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    n = CONFIG["n_positions"]
    for layer in range(CONFIG["n_layer"]):
        state[f"h.{layer}.attn.bias"] = torch.tril(torch.ones(n, n)).view(1, 1, n, n)
        state[f"h.{layer}.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(state, hub / "model.safetensors", metadata={"format": "pt"})
    record(hub, model)

    # transformers 5 writes only safetensors; a .bin alone is what older checkpoints have.
    (ROOT / "tiny-bin-only").mkdir()
    shutil.copy(ROOT / "tiny" / "config.json", ROOT / "tiny-bin-only" / "config.json")
    torch.save(model.state_dict(), ROOT / "tiny-bin-only" / "pytorch_model.bin")

    for name, targets in [("lora-c_attn", ["c_attn"]), ("lora-c_attn-c_proj", ["c_attn", "c_proj"])]:
        base = GPT2LMHeadModel(GPT2Config(**CONFIG))
        base.load_state_dict(model.state_dict())
        lora = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=targets, fan_in_fan_out=True,
                                               lora_dropout=0.05, task_type="CAUSAL_LM"))
        generator = torch.Generator().manual_seed(len(targets))
        with torch.no_grad():
            for parameter_name, parameter in lora.named_parameters():
                if "lora_B" in parameter_name:
                    parameter.copy_(0.1 * torch.randn(parameter.shape, generator=generator))
        lora.save_pretrained(ROOT / name)
        (ROOT / name / "README.md").unlink()
        record(ROOT / name, lora.base_model.model, peft=peft.__version__)
        print(name, sorted(p.name for p in (ROOT / name).iterdir()))
    for folder in sorted(ROOT.iterdir()):
        print(folder.name, sorted(p.name for p in folder.iterdir()))


# Text the tokenizer test encodes: Shakespeare, and every case GPT-2's pre-tokenizer treats apart.
TOKENIZER_TEXTS = [
    "First Citizen:\nBefore we proceed any further, hear me speak.",
    "All:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?",
    "I'll say it's ours; they've we're I'm you'd he'll 'tis O'er",
    "  leading spaces, trailing spaces   ",
    "tabs\tand\r\nwindows lines\n\n\n   indented",
    "numbers 1234567 and 3.14159, 1st 2nd 10,000",
    "punctuation!!! ?!... --- (parens) [brackets] {braces} \"quotes\" 'single'",
    "café naïve Ελληνικά русский 中文 日本語 한국어",
    "emoji 😀👍🏽 🇵🇱 and ZWJ 👩‍👩‍👧",
    "<|endoftext|>a special token<|endoftext|>",
    "",
    " ",
    "\n",
    "x" * 300,
]


def write_tokenizer():
    """A byte-level BPE trained by Hugging Face tokenizers on Tiny Shakespeare with GPT-2's
    pre-tokenizer, saved as vocab.json + merges.txt and as tokenizer.json, and the ids that
    transformers' GPT2Tokenizer gives (and tokenizers alone, from tokenizer.json)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Tokenizer

    folder = ROOT / "tokenizer"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    corpus = (Path(__file__).resolve().parent.parent / "Lessons" / "data" / "tinyshakespeare.txt").read_text()
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([corpus], trainer)
    tokenizer.model.save(str(folder))  # vocab.json, merges.txt
    # transformers 5's GPT2Tokenizer runs on tokenizers; built from the two files as
    # from_pretrained builds it, then saved as the single tokenizer.json and read back with
    # tokenizers alone: both must give the same ids.
    reference = GPT2Tokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"))
    reference.backend_tokenizer.save(str(folder / "tokenizer.json"))
    single = Tokenizer.from_file(str(folder / "tokenizer.json"))
    cases = []
    for text in TOKENIZER_TEXTS:
        ids = reference.encode(text)
        assert single.encode(text).ids == ids, text
        assert reference.decode(ids) == text, text
        cases.append(dict(text=text, ids=ids))
    shakespeare = reference.encode(corpus[:20000])
    write_json(folder / "expected.json", dict(cases=cases, shakespeare20k=shakespeare,
                                              tokenizers=__import__("tokenizers").__version__,
                                              transformers=transformers.__version__))
    print("tokenizer:", len(reference), "tokens;", sorted(p.name for p in folder.iterdir()))


def check_swift_saved():
    """Loads what the Swift tests saved: the adapter swift-saved/c_attn with PEFT over tiny/, and the model
    swift-saved/model with from_pretrained; compares logits with the ones Swift recorded."""
    from peft import PeftModel
    folder = ROOT / "swift-saved" / "c_attn"
    base = GPT2LMHeadModel.from_pretrained(ROOT / "tiny")
    model = PeftModel.from_pretrained(base, folder)
    recorded = json.loads((folder / "expected.json").read_text())["logits"]
    logits = run(model.base_model.model)["logits"]
    difference = max(abs(a - b) for a, b in zip(logits, recorded, strict=True))
    print(f"swift-saved/c_attn in PEFT: max |logit difference| = {difference:.2e}")
    assert difference < 1e-5, difference
    # A model GPT2.save(to:) wrote: config.json and model.safetensors as save_pretrained's.
    folder = ROOT / "swift-saved" / "model"
    model = GPT2LMHeadModel.from_pretrained(folder)
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr(), "not tied"
    recorded = json.loads((folder / "expected.json").read_text())["logits"]
    difference = max(abs(a - b) for a, b in zip(run(model)["logits"], recorded, strict=True))
    print(f"swift-saved/model in transformers: max |logit difference| = {difference:.2e}")
    assert difference < 1e-5, difference
    # Lesson 05's model and tokenizer, trained by the project, opened as a Hugging Face user would.
    from transformers import GPT2TokenizerFast
    course = ROOT.parent.parent.parent.parent / "Lessons" / "models" / "gpt2-shakespeare"
    record = json.loads((ROOT / "swift-saved" / "course-model.json").read_text())
    tokenizer = GPT2TokenizerFast.from_pretrained(course)
    assert tokenizer.encode(record["text"]) == record["ids"], "tokenizer ids differ"
    model = GPT2LMHeadModel.from_pretrained(course).eval()
    with torch.no_grad():
        logits = model(torch.tensor([record["ids"]])).logits.flatten().tolist()
    difference = max(abs(a - b) for a, b in zip(logits, record["logits"], strict=True))
    print(f"Lessons/models/gpt2-shakespeare in transformers: same ids, max |logit difference| = {difference:.2e}")
    assert difference < 1e-4, difference


if __name__ == "__main__":
    import sys
    torch.set_num_threads(1)
    if "--tokenizer-only" in sys.argv:
        write_tokenizer()
    elif "--check-only" not in sys.argv:
        main()
        write_tokenizer()
    if "--check" in sys.argv or "--check-only" in sys.argv:
        check_swift_saved()
