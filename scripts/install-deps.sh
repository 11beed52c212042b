#!/usr/bin/env bash
# scripts/install-deps.sh: installs what building and testing qengine needs on Debian, skipping
# what is already there. Runs as root (apt-get); Python packages go through pip.
set -euo pipefail

note() { echo "install-deps: $*" >&2; }

packages=(build-essential cmake pkg-config git python3 python3-pip
          libsentencepiece-dev libpcre2-dev libcli11-dev nlohmann-json3-dev
          googletest libgtest-dev libgmock-dev libbenchmark-dev
          g++-aarch64-linux-gnu qemu-user)  # the aarch64 kernel cross-test (test-neon.sh)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# python3/pip may come from elsewhere (pyenv); only ask apt for them when absent.
if command -v python3 >/dev/null 2>&1; then
  missing=("${missing[@]/python3}")
  python3 -m pip --version >/dev/null 2>&1 && missing=("${missing[@]/python3-pip}")
fi
read -r -a missing <<< "${missing[*]}"
if ((${#missing[@]})); then
  if [[ "$(id -u)" != 0 ]]; then
    echo "install-deps: error: missing packages (${missing[*]}); run as root or install them" >&2
    exit 1
  fi
  note "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The NumPy oracle and the format cross-check use numpy and the gguf package.
if ! python3 -c "import numpy, gguf" >/dev/null 2>&1; then
  note "pip install numpy gguf"
  python3 -m pip install --quiet --disable-pip-version-check numpy gguf 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages numpy gguf
fi
# With CUDA, the static SASS rules (cuda/tools/sass_rules.py) read the sm_90 code with
# cuobjdump + nvdisasm, which this CUDA 13.0 install lacks; NVIDIA's PyPI wheels carry them.
if command -v nvcc >/dev/null 2>&1 || [[ -x /usr/local/cuda/bin/nvcc ]]; then
  if ! python3 "$(dirname "$0")/../cuda/tools/sass_rules.py" --check-tools >/dev/null 2>&1; then
    tools=(nvidia-cuda-cuobjdump==13.5.37 nvidia-cuda-nvdisasm==13.5.37)
    note "pip install ${tools[*]}"
    python3 -m pip install --quiet --disable-pip-version-check "${tools[@]}" 2>/dev/null \
      || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${tools[@]}"
  fi
fi
note "dependencies present"
