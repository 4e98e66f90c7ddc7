#!/usr/bin/env bash
# Build a real Kubernetes control plane (kube-apiserver, kube-controller-manager, etcd) for the
# operator's tier-3 tests, and with --node the parts of a one-node cluster for the e2e tier
# (kubelet, kube-proxy, kube-scheduler, the pause binary), from Debian bookworm packages only,
# into a cache directory outside the repo:
#
#   ${FRONTIER_K8S_CACHE:-/var/cache/frontier-py/k8s}/<version>/bin/{kube-apiserver,kube-controller-manager,etcd}
#   ${FRONTIER_K8S_CACHE:-/var/cache/frontier-py/k8s}/<version>/node/bin/{kubelet,kube-proxy,kube-scheduler,pause}
#
# - Kubernetes: Debian's `kubernetes` source package (1.20.5+really1.20.2: the full upstream tree
#   with vendor/), fetched with `apt-get source --download-only` through a *private* apt
#   configuration (own sources.list with a deb-src line, own lists and cache dirs), so the
#   system's apt sources and state are never touched. Debian's patches are applied.
# - Go: Debian's golang-1.19-go + golang-1.19-src, `apt-get download` + `dpkg -x` (no install).
# - etcd: Debian's etcd-server, `apt-get download` + `dpkg -x` (no install).
# - The vendored github.com/modern-go/reflect2 v1.0.1 crashes at run time on Go >= 1.18
#   (unsafe map iteration layout); it is replaced by Debian's golang-github-modern-go-reflect2-dev
#   (v1.0.2, API-compatible).
# - kubelet (--node only): one change to the source, so a test node never rewrites the shared
#   machine's kernel settings: the container manager only warns about kernel.panic,
#   kernel.panic_on_oops, vm.overcommit_memory... that differ from its wishes, instead of setting
#   them (upstream's KernelTunableModify becomes its own KernelTunableWarn).
# - pause (--node only): build/pause/linux/pause.c, compiled static with gcc; the e2e tier wraps
#   it into the pod sandbox image.
# The build runs offline (GOPROXY=off, -mod=vendor, CGO_ENABLED=0). Build files are kept in
# <version>/work while building and removed after success; only bin/, node/bin/ and the markers
# stay.
#
# Usage: build-control-plane.sh [--node] [--force] [--print-dir] [--help]
#   (no option)  build when the marker is missing, else return at once; prints the bin dir
#   --node       also the node parts (node/bin, marker node/.build-complete); prints node/bin.
#                One build when both are missing.
#   --force      discard the previous build (of the node parts, with --node) and rebuild
#   --print-dir  print the version directory (where bin/ and the marker live) and exit
# Environment: FRONTIER_K8S_CACHE (cache root), FRONTIER_DEBIAN_MIRROR (default: the system's
# Debian mirror, else http://deb.debian.org/debian), FRONTIER_K8S_KEEP_WORK=1 (keep build files),
# FRONTIER_K8S_LOCK_TIMEOUT (seconds to wait for a concurrent build, default 3600).
# Exit codes: 0 built (or already there); 2 impossible here (reason printed); 1 build failed.
set -euo pipefail

K8S_VERSION="v1.20.2"            # upstream version inside Debian's 1.20.5+really1.20.2
DEB_SOURCE="kubernetes"
DEB_SUITE="bookworm"
GO_PKGS=(golang-1.19-go golang-1.19-src)
GO_SUBDIR="usr/lib/go-1.19"
ETCD_PKG="etcd-server"
REFLECT2_PKG="golang-github-modern-go-reflect2-dev"
MARKER_NAME=".build-complete"

log() { printf '[build-control-plane] %s\n' "$*" >&2; }
# Any unexpected failure still ends with a REASON line (explicit exits below print their own).
trap 'printf "REASON: build failed: %s line %s exited with %s\n" "${BASH_SOURCE[0]##*/}" "$LINENO" "$?" >&2' ERR
impossible() {
    # The reason line is parsed by tests/support/kube_control_plane.py (ensure_built).
    printf 'REASON: %s\n' "$*" >&2
    exit 2
}
failed() {
    printf 'REASON: build failed: %s\n' "$*" >&2
    exit 1
}

cache_root() {
    if [ -n "${FRONTIER_K8S_CACHE:-}" ]; then
        printf '%s\n' "$FRONTIER_K8S_CACHE"
        return
    fi
    local sys=/var/cache/frontier-py/k8s probe=/var/cache/frontier-py/k8s
    while [ ! -e "$probe" ]; do probe="$(dirname "$probe")"; done
    if [ -w "$probe" ]; then
        printf '%s\n' "$sys"
    else
        printf '%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}/frontier-py/k8s"
    fi
}

FORCE=0
PRINT_DIR=0
NODE=0
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        --node) NODE=1 ;;
        --print-dir) PRINT_DIR=1 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            log "unknown argument: $arg"
            exit 64
            ;;
    esac
done

CACHE="$(cache_root)"
DIR="$CACHE/$K8S_VERSION"
BIN="$DIR/bin"
MARKER="$DIR/$MARKER_NAME"
NODE_DIR="$DIR/node"
NODE_BIN="$NODE_DIR/bin"
NODE_MARKER="$NODE_DIR/$MARKER_NAME"
NODE_BINARIES=(kubelet kube-proxy kube-scheduler pause)

if [ "$PRINT_DIR" = 1 ]; then
    printf '%s\n' "$DIR"
    exit 0
fi

is_complete() {
    [ -f "$MARKER" ] && [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ] \
        && [ -x "$BIN/etcd" ]
}

node_is_complete() {
    [ -f "$NODE_MARKER" ] || return 1
    local b
    for b in "${NODE_BINARIES[@]}"; do
        [ -x "$NODE_BIN/$b" ] || return 1
    done
}

# What this run must build: WANT_CP / WANT_NODE (1 = build it). The answer printed on success.
wanted() {
    WANT_CP=0
    WANT_NODE=0
    if [ "$NODE" = 1 ]; then
        { [ "$FORCE" = 1 ] || ! node_is_complete; } && WANT_NODE=1
        is_complete || WANT_CP=1
        RESULT="$NODE_BIN"
    else
        { [ "$FORCE" = 1 ] || ! is_complete; } && WANT_CP=1
        RESULT="$BIN"
    fi
    return 0
}

wanted
if [ "$WANT_CP" = 0 ] && [ "$WANT_NODE" = 0 ]; then
    printf '%s\n' "$RESULT"
    exit 0
fi

mkdir -p "$CACHE" 2>/dev/null || impossible "cannot create the cache directory $CACHE"
[ -w "$CACHE" ] || impossible "the cache directory $CACHE is not writable (set FRONTIER_K8S_CACHE)"
command -v flock >/dev/null 2>&1 || impossible "flock (util-linux) is missing"

LOCK="$CACHE/.$K8S_VERSION.lock"
exec 9>"$LOCK"
if ! flock -n 9; then
    log "another build holds $LOCK; waiting for it"
    flock -w "${FRONTIER_K8S_LOCK_TIMEOUT:-3600}" 9 || impossible "timed out waiting for $LOCK"
fi
if [ "$FORCE" = 0 ]; then # built by the holder of the lock meanwhile?
    wanted
    if [ "$WANT_CP" = 0 ] && [ "$WANT_NODE" = 0 ]; then
        printf '%s\n' "$RESULT"
        exit 0
    fi
fi
if [ "$FORCE" = 1 ] && [ "$NODE" = 1 ]; then
    log "--force --node: discarding $NODE_DIR"
    rm -rf "$NODE_MARKER" "$NODE_BIN"
elif [ "$FORCE" = 1 ]; then
    log "--force: discarding $DIR"
    rm -rf "$MARKER" "$BIN"
fi

# --- prerequisites -----------------------------------------------------------------------------
[ "$(uname -s)" = Linux ] || impossible "needs Linux (found $(uname -s))"
for tool in apt-get dpkg tar patch make; do
    command -v "$tool" >/dev/null 2>&1 || impossible "$tool is missing (needs a Debian-like system)"
done
if [ "$WANT_NODE" = 1 ]; then # the pause binary is C, linked statically
    command -v gcc >/dev/null 2>&1 || impossible "gcc is missing (Debian package gcc; needed for pause)"
    printf 'int main(void){return 0;}\n' | gcc -static -x c -o /dev/null - 2>/dev/null \
        || impossible "gcc cannot link statically (Debian package libc6-dev; needed for pause)"
fi
ARCH="$(dpkg --print-architecture)"
case "$ARCH" in
    amd64 | arm64 | armhf | i386 | s390x) ;; # architectures Debian's kubernetes source builds on
    *) impossible "unsupported architecture $ARCH" ;;
esac
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$KEYRING" ] || impossible "$KEYRING is missing (package debian-archive-keyring)"

debian_mirror() {
    if [ -n "${FRONTIER_DEBIAN_MIRROR:-}" ]; then
        printf '%s\n' "$FRONTIER_DEBIAN_MIRROR"
        return
    fi
    local uri
    # deb822 (bookworm's default) first, then the one-line format; first .../debian wins.
    uri="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | sed -n 's/^URIs:[[:space:]]*//p' | tr ' ' '\n' | grep -E '^https?://.*/debian/?$' \
        | head -n1 || true)"
    if [ -z "$uri" ]; then
        uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | grep -E '^deb[[:space:]]' | grep -oE 'https?://[^ ]+/debian/?( |$)' \
            | head -n1 | tr -d ' ' || true)"
    fi
    printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}
MIRROR="$(debian_mirror)"
MIRROR="${MIRROR%/}"

WORK="$DIR/work"
APT="$WORK/apt"
mkdir -p "$DIR" "$WORK" "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/sources.list.d" \
    "$APT/preferences.d"
# A private apt configuration: the system's sources, lists, caches and locks stay untouched.
cat >"$APT/sources.list" <<EOF
deb [signed-by=$KEYRING] $MIRROR $DEB_SUITE main
deb-src [signed-by=$KEYRING] $MIRROR $DEB_SUITE main
EOF
APT_OPTS=(
    -o "Dir::Etc::sourcelist=$APT/sources.list"
    -o "Dir::Etc::sourceparts=$APT/sources.list.d"
    -o "Dir::Etc::preferencesparts=$APT/preferences.d"
    -o "Dir::State::Lists=$APT/lists"
    -o "Dir::Cache=$APT/cache"
    -o "Debug::NoLocking=1"
    -o "APT::Sandbox::User=root"
    -o "Acquire::Retries=3"
    -o "APT::Architecture=$ARCH"
)
START=$(date +%s)

log "cache: $DIR (mirror $MIRROR, suite $DEB_SUITE, arch $ARCH)"
log "apt-get update (private lists in $APT/lists)"
# apt-get update only warns (exit 0) when an index cannot be fetched: look at its output too.
if ! apt-get "${APT_OPTS[@]}" -qq -o APT::Update::Error-Mode=any update >"$WORK/apt-update.log" 2>&1 \
    || grep -qE '^(E:|Err:|W: Failed to fetch|W: Some index files failed)' "$WORK/apt-update.log"; then
    sed -n '1,20p' "$WORK/apt-update.log" >&2
    impossible "cannot reach the Debian archive $MIRROR (apt-get update failed; see $WORK/apt-update.log)"
fi

if ! command -v rsync >/dev/null 2>&1; then # the kubernetes build scripts use rsync
    # The one system package this may install (harmless), with the lists fetched just now.
    if [ "$(id -u)" -eq 0 ]; then
        log "installing rsync (needed by the kubernetes build scripts)"
        DEBIAN_FRONTEND=noninteractive apt-get -o "Dir::Etc::sourcelist=$APT/sources.list" \
            -o "Dir::Etc::sourceparts=$APT/sources.list.d" -o "Dir::State::Lists=$APT/lists" \
            -o "Dir::Cache=$APT/cache" install -y -qq --no-install-recommends rsync \
            >"$WORK/apt-rsync.log" 2>&1 || true
    fi
    command -v rsync >/dev/null 2>&1 || impossible "rsync is missing and cannot be installed (not root?)"
fi

pkg_version() {
    { apt-cache "${APT_OPTS[@]}" show --no-all-versions "$1" 2>/dev/null || true; } \
        | sed -n 's/^Version: //p' | head -n1
}
GO_VERSION_DEB="$(pkg_version "${GO_PKGS[0]}")"
ETCD_VERSION_DEB="$(pkg_version "$ETCD_PKG")"
REFLECT2_VERSION_DEB="$(pkg_version "$REFLECT2_PKG")"
SRC_VERSION_DEB="$({ apt-cache "${APT_OPTS[@]}" showsrc "$DEB_SOURCE" 2>/dev/null || true; } \
    | sed -n 's/^Version: //p' | head -n1)"
[ -n "$GO_VERSION_DEB" ] || impossible "${GO_PKGS[0]} is not in $DEB_SUITE"
[ -n "$ETCD_VERSION_DEB" ] || impossible "$ETCD_PKG is not in $DEB_SUITE"
[ -n "$REFLECT2_VERSION_DEB" ] || impossible "$REFLECT2_PKG is not in $DEB_SUITE"
[ -n "$SRC_VERSION_DEB" ] || impossible "source package $DEB_SOURCE is not in $DEB_SUITE"
case "$SRC_VERSION_DEB" in
    *"really${K8S_VERSION#v}"* | "${K8S_VERSION#v}"-*) ;;
    *) impossible "$DEB_SOURCE source is $SRC_VERSION_DEB, not upstream $K8S_VERSION (update K8S_VERSION)" ;;
esac

# --- downloads (fresh each time: an older run may have left other versions) ----------------------
DEBS="$WORK/debs"
SRCDL="$WORK/srcdl"
rm -rf "$DEBS" "$SRCDL"
mkdir -p "$DEBS" "$SRCDL"
log "downloading ${GO_PKGS[*]} $ETCD_PKG $REFLECT2_PKG (apt-get download)"
(cd "$DEBS" && apt-get "${APT_OPTS[@]}" -qq download "${GO_PKGS[@]}" "$ETCD_PKG" "$REFLECT2_PKG") \
    >"$WORK/apt-download.log" 2>&1 || {
    tail -n 20 "$WORK/apt-download.log" >&2
    impossible "apt-get download failed (see $WORK/apt-download.log)"
}
log "downloading source package $DEB_SOURCE $SRC_VERSION_DEB (apt-get source --download-only)"
(cd "$SRCDL" && apt-get "${APT_OPTS[@]}" -qq source --download-only "$DEB_SOURCE") \
    >"$WORK/apt-source.log" 2>&1 || {
    tail -n 20 "$WORK/apt-source.log" >&2
    impossible "apt-get source --download-only $DEB_SOURCE failed (see $WORK/apt-source.log)"
}

# --- unpack toolchain, etcd, reflect2 ------------------------------------------------------------
ROOTFS="$WORK/root"
rm -rf "$ROOTFS"
mkdir -p "$ROOTFS"
for deb in "$DEBS"/*.deb; do
    dpkg -x "$deb" "$ROOTFS"
done
GOROOT="$ROOTFS/$GO_SUBDIR"
[ -x "$GOROOT/bin/go" ] || failed "no go binary in $GOROOT after dpkg -x"
[ -x "$ROOTFS/usr/bin/etcd" ] || failed "no etcd binary in $ETCD_PKG"
REFLECT2_SRC="$ROOTFS/usr/share/gocode/src/github.com/modern-go/reflect2"
[ -f "$REFLECT2_SRC/reflect2.go" ] || failed "no reflect2 sources in $REFLECT2_PKG"

# --- unpack kubernetes source with Debian's patches ------------------------------------------------
SRC="$WORK/kubernetes"
rm -rf "$SRC"
DSC="$(ls "$SRCDL"/"${DEB_SOURCE}"_*.dsc | head -n1)"
if command -v dpkg-source >/dev/null 2>&1; then
    log "dpkg-source -x $(basename "$DSC")"
    dpkg-source --no-check -x "$DSC" "$SRC" >"$WORK/dpkg-source.log" 2>&1 || {
        tail -n 20 "$WORK/dpkg-source.log" >&2
        failed "dpkg-source -x failed"
    }
else
    log "unpacking $(basename "$DSC") with tar + patch (no dpkg-source)"
    mkdir -p "$SRC"
    tar -xzf "$(ls "$SRCDL"/*.orig.tar.gz | head -n1)" -C "$SRC" --strip-components=1
    tar -xJf "$(ls "$SRCDL"/*.debian.tar.xz | head -n1)" -C "$SRC"
    if [ -f "$SRC/debian/patches/series" ]; then
        grep -vE '^[[:space:]]*(#|$)' "$SRC/debian/patches/series" | while read -r p _; do
            patch -d "$SRC" -p1 -s <"$SRC/debian/patches/$p" || exit 1
        done || failed "applying Debian patches failed"
    fi
fi
[ -d "$SRC/vendor" ] || failed "the source tree has no vendor/ directory"

VENDORED_REFLECT2="$(sed -n 's|^# github.com/modern-go/reflect2 \(v[^ ]*\).*|\1|p' "$SRC/vendor/modules.txt" | head -n1)"
log "replacing vendored reflect2 ${VENDORED_REFLECT2:-?} with Debian's $REFLECT2_PKG $REFLECT2_VERSION_DEB"
rm -rf "$SRC/vendor/github.com/modern-go/reflect2"
mkdir -p "$SRC/vendor/github.com/modern-go/reflect2"
# Only the package's Go sources (no tests): vendor/modules.txt keeps saying v1.0.1, which keeps
# go.mod and vendor/ consistent; the v1.0.2 code is API-compatible.
find "$REFLECT2_SRC" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' -o -name LICENSE \) \
    ! -name '*_test.go' -exec cp {} "$SRC/vendor/github.com/modern-go/reflect2/" \;

# --- build --------------------------------------------------------------------------------------
export GOROOT
export PATH="$GOROOT/bin:$PATH"
export GOPROXY=off GOFLAGS=-mod=vendor GO111MODULE=on CGO_ENABLED=0 GOSUMDB=off GONOSUMDB='*'
export GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" GOMODCACHE="$WORK/gopath/pkg/mod"
export HOME="$WORK/home" TMPDIR="$WORK/tmp"
mkdir -p "$HOME" "$TMPDIR" "$GOCACHE"
unset GOBIN GOOS GOARCH GOFLAGS_EXTRA KUBE_BUILD_PLATFORMS || true
GO_VERSION="$(go version | awk '{print $3}')"

TARGETS=()
[ "$WANT_CP" = 1 ] && TARGETS+=(cmd/kube-apiserver cmd/kube-controller-manager)
if [ "$WANT_NODE" = 1 ]; then
    TARGETS+=(cmd/kubelet cmd/kube-proxy cmd/kube-scheduler)
    # A test node must not rewrite the shared machine's kernel tunables (kernel.panic,
    # kernel.panic_on_oops, vm.overcommit_memory...): warn about them instead.
    CM="$SRC/pkg/kubelet/cm/container_manager_linux.go"
    grep -q 'b := KernelTunableModify' "$CM" || failed "kubelet: KernelTunableModify not found in $CM"
    sed -i 's|b := KernelTunableModify|b := KernelTunableWarn // frontier-py: never modify|' "$CM"
    grep -q 'b := KernelTunableWarn' "$CM" || failed "kubelet: patching $CM failed"
fi
log "building ${TARGETS[*]} $K8S_VERSION with $GO_VERSION (log: $WORK/make.log)"
BUILD_START=$(date +%s)
if ! (cd "$SRC" && make WHAT="${TARGETS[*]}" \
    KUBE_GIT_VERSION="$K8S_VERSION" KUBE_GIT_TREE_STATE=clean KUBE_VERBOSE=1) \
    >"$WORK/make.log" 2>&1; then
    tail -n 40 "$WORK/make.log" >&2
    failed "make failed (see $WORK/make.log; the build files are kept for a retry)"
fi
BUILD_SECONDS=$(($(date +%s) - BUILD_START))
OUT="$SRC/_output/bin"
for t in "${TARGETS[@]}"; do
    [ -x "$OUT/${t#cmd/}" ] || failed "make did not produce $OUT/${t#cmd/}"
done

if [ "$WANT_NODE" = 1 ]; then
    PAUSE_C="$SRC/build/pause/linux/pause.c"
    [ -f "$PAUSE_C" ] || PAUSE_C="$SRC/build/pause/pause.c"
    [ -f "$PAUSE_C" ] || failed "no pause.c under $SRC/build/pause"
    PAUSE_VERSION="$(sed -n 's/^TAG[[:space:]]*[?:]*=[[:space:]]*//p' "$SRC/build/pause/Makefile" 2>/dev/null | head -n1)"
    PAUSE_VERSION="${PAUSE_VERSION:-unknown}"
    gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-frontier" -o "$OUT/pause" "$PAUSE_C" \
        >"$WORK/pause.log" 2>&1 || { cat "$WORK/pause.log" >&2; failed "compiling $PAUSE_C failed"; }
    "$OUT/pause" -v >/dev/null 2>&1 || failed "the built pause does not run"
    rm -rf "$NODE_BIN" "$NODE_BIN.new"
    mkdir -p "$NODE_BIN.new"
    cp "$OUT/kubelet" "$OUT/kube-proxy" "$OUT/kube-scheduler" "$OUT/pause" "$NODE_BIN.new/"
    "$NODE_BIN.new/kubelet" --version >/dev/null 2>&1 || failed "the built kubelet does not run"
    mv "$NODE_BIN.new" "$NODE_BIN"
fi
if [ "$WANT_CP" = 1 ]; then
    rm -rf "$BIN" "$BIN.new"
    mkdir -p "$BIN.new"
    cp "$OUT/kube-apiserver" "$OUT/kube-controller-manager" "$BIN.new/"
    cp "$ROOTFS/usr/bin/etcd" "$BIN.new/etcd"
    "$BIN.new/kube-apiserver" --version >/dev/null 2>&1 || failed "the built kube-apiserver does not run"
    "$BIN.new/etcd" --version >/dev/null 2>&1 || failed "etcd from $ETCD_PKG does not run"
    mv "$BIN.new" "$BIN"
fi

TOTAL_SECONDS=$(($(date +%s) - START))
common_marker() {
    cat <<EOF
kubernetes=$K8S_VERSION
kubernetes_debian_source=$SRC_VERSION_DEB
go=$GO_VERSION
go_debian=${GO_PKGS[0]} $GO_VERSION_DEB
reflect2_debian=$REFLECT2_PKG $REFLECT2_VERSION_DEB
arch=$ARCH
mirror=$MIRROR
targets=${TARGETS[*]}
make_seconds=$BUILD_SECONDS
total_seconds=$TOTAL_SECONDS
built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
}
if [ "$WANT_CP" = 1 ]; then
    {
        common_marker
        printf 'kube_apiserver_version=%s\n' "$("$BIN/kube-apiserver" --version 2>&1 | awk '{print $2}')"
        printf 'etcd=%s\n' "$("$BIN/etcd" --version 2>&1 | sed -n 's/^etcd Version: //p')"
        printf 'etcd_debian=%s %s\n' "$ETCD_PKG" "$ETCD_VERSION_DEB"
    } >"$MARKER.tmp"
    mv "$MARKER.tmp" "$MARKER"
fi
if [ "$WANT_NODE" = 1 ]; then
    {
        common_marker
        printf 'kubelet_version=%s\n' "$("$NODE_BIN/kubelet" --version 2>&1 | awk '{print $2}')"
        printf 'kubelet_patch=%s\n' "KernelTunableModify -> KernelTunableWarn (never rewrite the machine's kernel tunables)"
        printf 'pause=%s (gcc %s)\n' "$PAUSE_VERSION" "$(gcc -dumpversion)"
    } >"$NODE_MARKER.tmp"
    mv "$NODE_MARKER.tmp" "$NODE_MARKER"
fi

if [ "${FRONTIER_K8S_KEEP_WORK:-0}" = 1 ]; then
    log "keeping build files in $WORK ($(du -sh "$WORK" | cut -f1))"
else
    log "removing build files $WORK ($(du -sh "$WORK" | cut -f1))"
    rm -rf "$WORK"
fi
log "done in ${TOTAL_SECONDS}s (make ${BUILD_SECONDS}s); $(du -sh "$DIR" | cut -f1) in $DIR"
printf '%s\n' "$RESULT"
