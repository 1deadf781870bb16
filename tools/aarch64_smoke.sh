#!/usr/bin/env bash
# aarch64 smoke test: `pip install` the runtime wheel and run `fingerspell predict` on 64-bit ARM
# Linux (Debian bookworm arm64, the base of 64-bit Raspberry Pi OS), emulated with qemu-user.
# SUITE=trixie is Raspberry Pi OS trixie's base (Python 3.13); ARCH=amd64 with SUITE=forky is a
# laptop with Python 3.14, run natively (no qemu).
#
# NOT FOR CI: it debootstraps a Debian root (~4 min, ~700 MB) and runs inference under emulation
# (~20 s per image, minutes in all). Run it by hand, as root, on a Debian/Ubuntu x86-64 host:
#
#   sudo nice -n 19 tools/aarch64_smoke.sh [WORKDIR [IMAGE...]]
#
# WORKDIR (default /var/tmp/fingerspell-arm64) holds the clone, the wheel, the arm64 root and
# evidence.txt; the root is reused when present. IMAGE defaults to four Massey dev photos; `adapt`
# is run on four train/multi photos (ADAPT_IMAGES), then predict again with the adapted head.
# Env: PYTHON (builds the wheel, default python3), MIRROR (Debian mirror), SKIP_LITERT=1,
# SUITE (Debian release, default bookworm), ARCH (Debian architecture, default arm64), CPU (the
# CPU qemu emulates, default cortex-a76, a Raspberry Pi 5's: qemu's own default, "max", has SME,
# where numpy 2.5.5's OpenBLAS takes its armv9sme kernel and float64 matmul comes out wrong,
# which no Pi can meet; found 2026-11-29).
# Exit status: 0 only if every install and prediction inside the arm64 root succeeded.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mkdir -p "${1:-/var/tmp/fingerspell-arm64}" && cd "${1:-/var/tmp/fingerspell-arm64}" && pwd)
shift || true
if [ $# -gt 0 ]; then IMAGES=("$@"); else
    M="$REPO/../shared/data/dev/massey"
    IMAGES=("$M/L/hand2_l_bot_seg_1_cropped.jpg" "$M/A/hand2_a_bot_seg_1_cropped.jpg"
            "$M/Y/hand2_y_bot_seg_1_cropped.jpg" "$M/B/hand2_b_bot_seg_1_cropped.jpg")
fi
# `fingerspell adapt` is tried on photos of training people (never dev/massey: adapting to it
# would be training on it), one per letter, in a folder per letter
T="$REPO/../shared/data/train/multi"
ADAPT_IMAGES=("$T/A/t32rahman-aslml__data_A_0.jpg" "$T/B/t32rahman-aslml__data_B_0.jpg"
              "$T/L/t32rahman-aslml__data_L_0.jpg" "$T/Y/t32rahman-aslml__data_Y_0.jpg")
ROOT="$WORK/rootfs"
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=${SUITE:-bookworm}
ARCH=${ARCH:-arm64}
CPU=${CPU:-cortex-a76}
# a release newer than this debootstrap knows is made with the script of sid, which it tracks
SCRIPT=/usr/share/debootstrap/scripts/$SUITE
[ -e "$SCRIPT" ] || SCRIPT=/usr/share/debootstrap/scripts/sid
EVIDENCE="$WORK/evidence.txt"
[ "$(id -u)" = 0 ] || { echo "run as root (debootstrap, mount, chroot)" >&2; exit 2; }
for f in "${IMAGES[@]}" "${ADAPT_IMAGES[@]}"; do [ -f "$f" ] || { echo "no such image: $f" >&2; exit 2; }; done
: > "$EVIDENCE"
ev() { echo "$*" | tee -a "$EVIDENCE"; }
step() { echo; echo "=== $* ($(date +%T))"; }
START=$EPOCHREALTIME

# 1. The wheel from the committed state (HEAD), not the working tree, which may hold edits.
step "wheel from $(git -C "$REPO" rev-parse --short HEAD)"
rm -rf "$WORK/src" "$WORK/dist"
git clone -q "$REPO" "$WORK/src"
"${PYTHON:-python3}" -m pip wheel -q "$WORK/src" --no-deps -w "$WORK/dist"
WHEEL=$(ls "$WORK"/dist/fingerspell-*.whl)
ev "commit: $(git -C "$WORK/src" rev-parse HEAD)  wheel: $(basename "$WHEEL") $(du -h "$WHEEL" | cut -f1)"

# 2. qemu-user + binfmt_misc, so the kernel runs aarch64 ELF files (and so chroot works). The F
#    flag (Debian's default) makes the kernel hold the interpreter open: nothing to copy into the root.
if [ "$ARCH" = arm64 ]; then
step "qemu + binfmt"
command -v qemu-aarch64-static >/dev/null && command -v debootstrap >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user-static debootstrap binfmt-support
BF=/proc/sys/fs/binfmt_misc
[ -e $BF/register ] || mount -t binfmt_misc binfmt_misc $BF ||
    { echo "cannot mount binfmt_misc (container without the privilege?): this script needs it" >&2; exit 2; }
[ -e $BF/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
grep -q '^enabled' $BF/qemu-aarch64 || { echo "qemu-aarch64 binfmt entry not enabled" >&2; exit 2; }
grep '^flags:' $BF/qemu-aarch64 | grep -q F ||
    echo "warning: qemu-aarch64 binfmt entry lacks the F flag; chroot may not find the interpreter" >&2
ev "host: $(uname -m)  $(qemu-aarch64-static --version | head -1), -cpu $CPU"
else
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
ev "host: $(uname -m), a $ARCH root run natively"
fi

# 3. Debian bookworm arm64 root (python3 = 3.11, as on Raspberry Pi OS bookworm), or SUITE and
#    ARCH's. A finished debootstrap removes $ROOT/debootstrap, so its presence means an
#    interrupted run: start over.
step "$SUITE $ARCH root at $ROOT"
if [ ! -x "$ROOT/usr/bin/python3" ] || [ -d "$ROOT/debootstrap" ]; then
    mountpoint -q "$ROOT/proc" || mountpoint -q "$ROOT/dev" && { echo "$ROOT has mounts; unmount first" >&2; exit 2; }
    rm -rf "$ROOT"
    debootstrap --arch="$ARCH" --variant=minbase \
        --include=python3,python3-venv,python3-pip,ca-certificates "$SUITE" "$ROOT" "$MIRROR" "$SCRIPT"
else
    echo "reusing it"
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# Hosts behind a TLS-inspecting proxy trust a local CA; the root must trust it too for pip to reach PyPI.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
    chroot "$ROOT" /usr/sbin/update-ca-certificates >/dev/null
fi
# /proc and /dev are needed; /sys is deliberately NOT mounted: with it, onnxruntime's cpuinfo reads
# the host's x86 CPU description and segfaults under qemu (without it, it only warns).
trap 'umount "$ROOT/dev" "$ROOT/proc" 2>/dev/null || true' EXIT
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"

# A clean environment inside (the host's PIP_* settings point at host paths); proxies pass through.
inroot() {
    chroot "$ROOT" /usr/bin/env -i PATH=/opt/smoke/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
        QEMU_CPU="$CPU" \
        LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
        ${https_proxy:+https_proxy=$https_proxy} ${HTTPS_PROXY:+HTTPS_PROXY=$HTTPS_PROXY} \
        ${no_proxy:+no_proxy=$no_proxy} "$@"
}
# run LABEL CMD...: run in the root, time it, record its exit code and stdout (stderr goes to the log).
FAILED=0
run() {
    local label=$1 t0 rc out; shift
    t0=$EPOCHREALTIME
    out=$(inroot "$@") && rc=0 || rc=$?
    [ -n "$out" ] && echo "$out"
    ev "$label: exit $rc, wall $(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $t0}") s"
    [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    /' >> "$EVIDENCE"
    [ $rc = 0 ] || FAILED=1
    return 0
}

# 4. A fresh venv each run, so the install is real evidence (pip's cache in the root keeps it quick).
step "pip install in the arm64 root"
rm -rf "$ROOT/opt/smoke"
mkdir -p "$ROOT/opt/smoke/img"
cp "$WHEEL" "$ROOT/opt/smoke/"
cp "${IMAGES[@]}" "$ROOT/opt/smoke/img/"
for f in "${ADAPT_IMAGES[@]}"; do  # the letter is the folder the photo is in
    L=$(basename "$(dirname "$f")"); mkdir -p "$ROOT/opt/smoke/letters/$L"; cp "$f" "$ROOT/opt/smoke/letters/$L/"
done
ev "uname -m in root: $(inroot uname -m)"
inroot python3 -m venv /opt/smoke/venv
run "pip install $(basename "$WHEEL")" pip install -q --only-binary=:all: "/opt/smoke/$(basename "$WHEEL")"
ev "platform.machine(): $(inroot python -c 'import platform; print(platform.machine())')"
ev "python: $(inroot python -c 'import sys; print(sys.version.split()[0])')"
ORT=$(inroot python -c 'import onnxruntime; print(onnxruntime.__version__)' 2>/dev/null || echo "not importable")
ev "onnxruntime $ORT, wheel tag: $(inroot sh -c 'sed -n "s/^Tag: //p" /opt/smoke/venv/lib/python3*/site-packages/onnxruntime-*.dist-info/WHEEL' || echo '?')"
ev "pip list:"; inroot pip list --format=freeze | sed 's/^/    /' | tee -a "$EVIDENCE"

step "predict (onnxruntime, bundled int8 ONNX)"
IMGS=(); for f in "${IMAGES[@]}"; do IMGS+=("/opt/smoke/img/$(basename "$f")"); done
run "fingerspell info" fingerspell info
run "fingerspell predict (1 image, incl. start-up and model load)" fingerspell predict "${IMGS[0]}"
run "fingerspell predict -k 3 (${#IMGS[@]} images)" fingerspell predict -k 3 "${IMGS[@]}"

step "adapt (the pose head to ${#ADAPT_IMAGES[@]} photos of training people) and predict with it"
run "fingerspell adapt (${#ADAPT_IMAGES[@]} photos)" fingerspell adapt /opt/smoke/letters --out /opt/smoke/mine.json
run "fingerspell predict --pose mine.json -k 3 (${#IMGS[@]} images)" \
    fingerspell predict --pose /opt/smoke/mine.json -k 3 "${IMGS[@]}"

if [ "${SKIP_LITERT:-0}" != 1 ]; then
    step "LiteRT (optional extra) with the bundled .tflite"
    run "pip install ai-edge-litert" pip install -q --only-binary=:all: ai-edge-litert
    ev "ai-edge-litert wheel tag: $(inroot sh -c 'sed -n "s/^Tag: //p" /opt/smoke/venv/lib/python3*/site-packages/ai_edge_litert-*.dist-info/WHEEL' 2>/dev/null || echo 'not installed')"
    TFL=$(inroot sh -c 'ls /opt/smoke/venv/lib/python3*/site-packages/fingerspell/artifacts/*.tflite' | head -1 || true)
    run "fingerspell predict --model $(basename "$TFL") -k 3 (${#IMGS[@]} images)" \
        fingerspell predict --model "$TFL" -k 3 "${IMGS[@]}"
fi

echo; echo "=== evidence ($EVIDENCE)"; cat "$EVIDENCE"
echo "total wall time: $(awk "BEGIN{printf \"%.0f\", $EPOCHREALTIME - $START}") s; result: $([ $FAILED = 0 ] && echo PASS || echo FAIL)"
exit $FAILED
