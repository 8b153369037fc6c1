#!/usr/bin/env bash
# Installs the Debian packages attune's build, tests and benchmarks need, only those missing.
# Run as root (or with sudo available). Safe to run again: it does nothing when all are present.
set -euo pipefail

packages=(
  cmake ninja-build g++ make pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libxxhash-dev zlib1g-dev
  libsqlite3-dev libssl-dev clang libclang-rt-dev
  libeigen3-dev python3-venv
  # Spec files (toml++) and the OpenCL backend: headers, the ICD loader, and PoCL to run OpenCL
  # on this CPU when there is no GPU.
  libtomlplusplus-dev opencl-headers ocl-icd-opencl-dev pocl-opencl-icd clinfo
  # Peers of `attune bench gemm`, loaded at run time; neither the library nor the CLI links them.
  libopenblas-dev libdnnl-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "attune: installing missing packages: ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "attune: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
