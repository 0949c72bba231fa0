#!/usr/bin/env python3
"""Trains the course's GPT-2 tokenizer: byte-level BPE, 2,048 tokens, on Tiny Shakespeare.

    /opt/torchenv/bin/python Scripts/train-gpt2-tokenizer.py   # a venv with tokenizers and transformers

Hugging Face tokenizers trains it with GPT-2's pre-tokenizer (the same pattern and byte-to-unicode
table as OpenAI's), on the first 90% of Lessons/data/tinyshakespeare.txt (the last 10% is held out, as
for the models). It writes vocab.json, merges.txt and tokenizer.json into Lessons/models/gpt2-shakespeare/,
with tokenizer_config.json so that AutoTokenizer.from_pretrained opens the
folder. `swift run -c release lora-pretrain gpt2` then trains the model beside them. The same command
gives the same files.
"""

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2TokenizerFast

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "Lessons" / "models" / "gpt2-shakespeare"

corpus = (ROOT / "Lessons" / "data" / "tinyshakespeare.txt").read_text()
training = corpus[: len(corpus) * 9 // 10]
tokenizer = Tokenizer(models.BPE())
tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tokenizer.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=2048, special_tokens=["<|endoftext|>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
tokenizer.train_from_iterator([training], trainer)
FOLDER.mkdir(parents=True, exist_ok=True)
tokenizer.model.save(str(FOLDER))
wrapped = GPT2TokenizerFast(vocab=str(FOLDER / "vocab.json"), merges=str(FOLDER / "merges.txt"))
wrapped.save_pretrained(FOLDER)
again = GPT2TokenizerFast.from_pretrained(FOLDER)
sample = corpus[-2000:]
assert again.decode(again.encode(sample)) == sample
print(f"{len(again)} tokens; the corpus is {len(again.encode(corpus))} tokens;",
      sorted(p.name for p in FOLDER.iterdir()))
