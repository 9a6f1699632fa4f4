#!/usr/bin/env python3
"""Build the King James Bible training corpus and the held-out evaluation slice.

Text comes from Debian's `bible-kjv` (`bible -f 'Gen1:1-Rev22:21'`), one verse per
line prefixed with its reference ("Ge1:1 In the beginning ...").  References are
stripped; verses of a chapter are joined by newlines and chapters separated by a
blank line.  Every 20th chapter (chapter index 19, 39, ...) is held out for
evaluation; the held-out text is cut at a chapter boundary to stay < 300 KB.
"""
import argparse
import re
import subprocess

REF = re.compile(r"^([0-9]?[A-Za-z]+)(\d+):(\d+) (.*)$")
HELDOUT_EVERY = 20
HELDOUT_MAX_BYTES = 300_000 - 1


def read_chapters(raw_text):
    chapters, current, key = [], [], None
    for line in raw_text.splitlines():
        if not line.strip():
            continue
        m = REF.match(line)
        if not m:
            raise ValueError(f"unexpected line: {line[:80]!r}")
        book, chap, verse = m.group(1), int(m.group(2)), m.group(4).strip()
        if (book, chap) != key:
            if current:
                chapters.append("\n".join(current))
            current, key = [], (book, chap)
        current.append(verse)
    if current:
        chapters.append("\n".join(current))
    return chapters


def split(chapters):
    train, held = [], []
    for i, ch in enumerate(chapters):
        (held if i % HELDOUT_EVERY == HELDOUT_EVERY - 1 else train).append(ch)
    held_text = ""
    for ch in held:
        candidate = held_text + ch + "\n\n"
        if len(candidate.encode()) > HELDOUT_MAX_BYTES:
            break
        held_text = candidate
    return "\n\n".join(train) + "\n", held_text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", help="existing `bible -f` output (default: run bible)")
    ap.add_argument("--train-out", required=True)
    ap.add_argument("--heldout-out", required=True)
    args = ap.parse_args()
    if args.raw:
        raw = open(args.raw, encoding="utf-8").read()
    else:
        raw = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True,
                             capture_output=True, text=True).stdout
    chapters = read_chapters(raw)
    train_text, held_text = split(chapters)
    with open(args.train_out, "w", encoding="utf-8", newline="\n") as f:
        f.write(train_text)
    with open(args.heldout_out, "w", encoding="utf-8", newline="\n") as f:
        f.write(held_text)
    print(f"chapters {len(chapters)}; train {len(train_text.encode())} bytes; "
          f"held-out {len(held_text.encode())} bytes")


if __name__ == "__main__":
    main()
