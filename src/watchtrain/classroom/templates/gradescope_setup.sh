#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image (choose the Ubuntu
# 24.04 base image: the course needs Python 3.11 or newer). Written by `watchtrain gradescope build`.
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends make python3 python3-venv python3-pip >/dev/null
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Watch It Train needs Python 3.11+: choose the Ubuntu 24.04 base image")'
python3 -m venv .venv
# PyTorch's CPU index: PyPI's default wheels would download several GB of CUDA libraries.
.venv/bin/pip install -q -c constraints.txt --index-url https://download.pytorch.org/whl/cpu torch torchvision
make setup
