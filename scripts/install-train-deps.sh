#!/bin/sh
# Dependencies of scripts/train/ and scripts/convert_hf.py (Debian packages; PyPI is not used).
# Call the Debian interpreter explicitly afterwards: /usr/bin/python3.
set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update
# python3-regex: \p{L}/\p{N} for the GPT-2 pre-tokenizer; bible-kjv: the training corpus;
# libopenblas0-pthread: without it Debian's torch uses the reference BLAS (~25x slower).
$SUDO apt-get install -y --no-install-recommends python3-numpy python3-torch python3-regex \
  bible-kjv libopenblas0-pthread
