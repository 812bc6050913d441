#!/usr/bin/env bash
# The system packages the test suite needs beyond pip (Debian/Ubuntu names), the one list
# of them. `make test` runs this first: it installs the missing ones with apt-get (sudo when
# not root) and, on a system without apt-get, stops with the command to run.
# `make demo` needs none of them.
set -euo pipefail

# package            needed for                                          present when
PACKAGES=(
  "chromium          the course's JupyterLab tests in a headless browser  command:chromium"
  "chromium-driver   selenium's driver for that browser                   command:chromedriver"
  "bubblewrap        the sandbox make grade runs students' cells in       command:bwrap"
  "acl               setfacl: the suite's grader user reaches the Python  command:setfacl"
  "libegl1           offscreen OpenGL (EGL) for MuJoCo's renderer         library:libEGL.so.1"
  "libegl-mesa0      Mesa's EGL driver                                    library:libEGL_mesa.so.0"
  "libgl1-mesa-dri   Mesa's software rasterizer (llvmpipe)                dpkg:libgl1-mesa-dri"
)

present() {  # present KIND:NAME
  local kind=${1%%:*} name=${1#*:}
  case $kind in
    command) command -v "$name" >/dev/null ;;
    library) "$(command -v ldconfig || echo /sbin/ldconfig)" -p | grep -q "^[[:space:]]*$name " ;;
    dpkg)    ! command -v dpkg >/dev/null || dpkg -s "$name" >/dev/null 2>&1 ;;
  esac
}

missing=()
for entry in "${PACKAGES[@]}"; do
  read -r package _ <<<"$entry"
  present "${entry##* }" || missing+=("$package")
done
((${#missing[@]})) || exit 0

if ! command -v apt-get >/dev/null; then
  echo "The test suite needs system packages that are missing: ${missing[*]} (Debian names)." >&2
  echo "Install them with your system's package manager; on Debian or Ubuntu:" >&2
  echo "    sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "Installing the system packages the tests need: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
