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
note "dependencies present"
