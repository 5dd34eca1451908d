#!/usr/bin/env bash
# The autograder's CUDA twins on a machine with a GPU and its own Python (the device machine: Python 3.12
# with torch, tensorboard, onnx and onnxruntime, and no network). The course's other libraries travel in
# .whl/ (wheels for cp312) and .whl/visdom (visdom, with the web files `make setup` installed), and the
# bundled data in data/fashion-mnist-mini/FashionMNIST. Prepare them here with:  bash tools/gpu_checks.sh --prepare
# then, on the device:  bash tools/gpu_checks.sh OUT_DIR
set -uo pipefail
cd "$(dirname "$0")/.."
WHEELS="wandb pydantic pydantic-core annotated-types typing-inspection platformdirs google-crc32c protobuf cwevals
opentelemetry-api opentelemetry-sdk opentelemetry-exporter-otlp-proto-http opentelemetry-exporter-otlp-proto-common
opentelemetry-proto opentelemetry-semantic-conventions opentelemetry-exporter-http-transport googleapis-common-protos
jsonpatch jsonpointer websocket-client tornado torchinfo torchsummary torchviz graphviz"
if [ "${1:-}" = --prepare ]; then
  grep -qx "/.whl/" .git/info/exclude 2>/dev/null || echo "/.whl/" >> .git/info/exclude
  specs=$(for p in $WHEELS; do echo "$p==$(.venv/bin/python -m pip show "$p" | awk '/^Version/{print $2}')"; done)
  mkdir -p .whl
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 --platform manylinux_2_5_x86_64 -d .whl $specs
  rm -rf .whl/visdom && cp -r .venv/lib/python3.11/site-packages/visdom .whl/visdom
  find .whl/visdom -name __pycache__ -prune -exec rm -rf {} +
  echo "carry: .whl data/fashion-mnist-mini/FashionMNIST"
  exit 0
fi
out=${1:-/tmp/gpu-checks}
mkdir -p "$out"
# Into a folder whose path names site-packages: the learner worker's jail shows such folders of sys.path.
site="$PWD/.whl/site-packages"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl || exit 1
cp -r .whl/visdom "$site/"
export PYTHONPATH="$site:$PWD/src" PYTHONUNBUFFERED=1
nvidia-smi -L
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
# Every warm-up step leaves CUDA unstarted: the processes forked after them must be able to use it.
python3 - <<'PY' 2>&1 | tee "$out/warm_up.log"
import os, sys
sys.path.insert(0, "src/watchtrain/classroom/isolation")
import torch, torch.onnx, torch.utils.tensorboard, matplotlib.pyplot, wandb, warm_up
warm_up.warm_up(["torch.utils.tensorboard", "matplotlib.pyplot", "wandb", "torch.onnx"])
print("warmed up:", sorted(warm_up._done), "; CUDA started:", torch.cuda.is_initialized())
pid = os.fork()
if pid == 0:
    try:
        model = torch.nn.Linear(2, 1).to("cuda")
        model.weight.grad, model.bias.grad = torch.ones_like(model.weight), torch.ones_like(model.bias)
        torch.optim.SGD(model.parameters(), lr=0.1).step()
        print("a fork trains on", torch.cuda.get_device_name(0))
    except Exception as error:
        print("a fork cannot use CUDA:", error)
    os._exit(0)
os.waitpid(pid, 0)
PY
# Which import starts CUDA when asked the default way (without PYTORCH_NVML_BASED_CUDA_CHECK): the spawner's.
python3 - <<'PY' 2>&1 | tee "$out/imports.log"
import importlib, os
from watchtrain.worker.host import PRELOAD
from watchtrain.library_imports import HEAVY
for name in (*PRELOAD, *HEAVY):
    try:
        importlib.import_module(name)
    except Exception as error:
        print(name, "failed:", type(error).__name__)
    torch = importlib.import_module("torch")
    print(name, "CUDA started:", torch.cuda.is_initialized())
pid = os.fork()
if pid == 0:
    try:
        print("a fork after them:", torch.zeros(1, device="cuda").device)
    except Exception as error:
        print("a fork after them cannot use CUDA:", str(error)[:200])
    os._exit(0)
os.waitpid(pid, 0)
PY
# The reference solutions, every check on CPU and on CUDA, as `make test-autograder` runs them.
timeout 420 python3 -m pytest autograder --solutions -q -rs --report-json "$out/reference.json" 2>&1 | tee "$out/reference.log"
