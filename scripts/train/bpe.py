#!/usr/bin/env python3
"""Byte-level BPE (GPT-2 style): training, encoding, tokenizer.json output.

Pre-tokenizer: the GPT-2 regex (tokenizer.ggml.pre = "gpt-2"), needs Debian's
python3-regex for \\p{L} / \\p{N}.  Vocabulary order: the 256 byte symbols (in byte
order, spelled with GPT-2's byte-to-unicode map), then one token per merge in merge
order, then the special tokens.
"""
import argparse
import collections
import json

import regex

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
PRETOKENIZER = regex.compile(GPT2_PATTERN)
SPECIAL_TOKENS = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_TO_UNICODE = bytes_to_unicode()
UNICODE_TO_BYTE = {c: b for b, c in BYTE_TO_UNICODE.items()}


def pretokenize(text):
    return [''.join(BYTE_TO_UNICODE[b] for b in piece.encode("utf-8"))
            for piece in PRETOKENIZER.findall(text)]


def train(text, n_merges, log_every=250):
    """Classic incremental BPE: pair counts over unique words, updated per merge.
    Ties on count are broken by the lexicographically smallest pair (deterministic)."""
    word_counts = collections.Counter(pretokenize(text))
    words = [list(w) for w in word_counts]
    counts = [word_counts[w] for w in word_counts]
    pair_counts = collections.Counter()
    pair_words = collections.defaultdict(set)
    for wi, syms in enumerate(words):
        for a, b in zip(syms, syms[1:]):
            pair_counts[(a, b)] += counts[wi]
            pair_words[(a, b)].add(wi)
    merges = []
    for step in range(n_merges):
        if not pair_counts:
            break
        best_count = max(pair_counts.values())
        if best_count < 2:
            break
        best = min(p for p, c in pair_counts.items() if c == best_count)
        merges.append(best)
        merged = best[0] + best[1]
        for wi in list(pair_words[best]):
            syms = words[wi]
            c = counts[wi]
            for a, b in zip(syms, syms[1:]):
                pair_counts[(a, b)] -= c
                if pair_counts[(a, b)] <= 0:
                    del pair_counts[(a, b)]
                pair_words[(a, b)].discard(wi)
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == best[0] and syms[i + 1] == best[1]:
                    out.append(merged)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            words[wi] = out
            for a, b in zip(out, out[1:]):
                pair_counts[(a, b)] += c
                pair_words[(a, b)].add(wi)
        pair_words.pop(best, None)
        if log_every and (step + 1) % log_every == 0:
            print(f"  merge {step + 1}/{n_merges}: {merged!r} x{best_count}", flush=True)
    return merges


class Tokenizer:
    def __init__(self, merges):
        self.merges = [tuple(m) for m in merges]
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.tokens = [BYTE_TO_UNICODE[b] for b in range(256)] + \
            [a + b for a, b in self.merges] + SPECIAL_TOKENS
        self.token_to_id = {}
        for i, t in enumerate(self.tokens):
            self.token_to_id.setdefault(t, i)
        n = len(self.tokens)
        self.bos_id, self.eos_id, self.eot_id = n - 3, n - 2, n - 1
        self.cache = {}

    def bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        syms = list(word)
        while len(syms) > 1:
            best_rank, best_i = None, None
            for i in range(len(syms) - 1):
                r = self.ranks.get((syms[i], syms[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best_rank, best_i = r, i
            if best_rank is None:
                break
            pair = self.merges[best_rank]
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and (syms[i], syms[i + 1]) == pair:
                    out.append(syms[i] + syms[i + 1])
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            syms = out
        ids = [self.token_to_id[s] for s in syms]
        self.cache[word] = ids
        return ids

    def encode(self, text):
        ids = []
        for w in pretokenize(text):
            ids.extend(self.bpe(w))
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            t = self.tokens[i]
            if t in SPECIAL_TOKENS:
                out += t.encode()
            else:
                out += bytes(UNICODE_TO_BYTE[c] for c in t)
        return out.decode("utf-8", errors="replace")

    def to_json(self):
        """A Hugging Face tokenizer.json-shaped description (enough for our converter)."""
        n = len(self.tokens)
        return {
            "version": "1.0",
            "added_tokens": [{"id": n - 3 + i, "content": t, "special": True}
                             for i, t in enumerate(SPECIAL_TOKENS)],
            "pre_tokenizer": {"type": "Split", "pattern": {"Regex": GPT2_PATTERN},
                              "ggml_pre": "gpt-2"},
            "model": {"type": "BPE",
                      "vocab": {t: i for i, t in enumerate(self.tokens)},
                      "merges": [f"{a} {b}" for a, b in self.merges]},
        }

    @classmethod
    def from_json(cls, path):
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        return cls([tuple(m.split(" ")) for m in j["model"]["merges"]])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--vocab-size", type=int, default=3072)
    ap.add_argument("--out", required=True, help="tokenizer.json path")
    args = ap.parse_args()
    text = open(args.corpus, encoding="utf-8").read()
    n_merges = args.vocab_size - 256 - len(SPECIAL_TOKENS)
    merges = train(text, n_merges)
    tok = Tokenizer(merges)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(tok.to_json(), f, ensure_ascii=False)
    ids = tok.encode(text[:100000])
    assert tok.decode(ids) == text[:100000]
    print(f"vocab {len(tok.tokens)} ({len(merges)} merges); "
          f"{100000 / len(ids):.2f} bytes/token on the first 100 KB")


if __name__ == "__main__":
    main()
