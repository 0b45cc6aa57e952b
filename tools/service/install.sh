#!/usr/bin/env bash
# Install carbonedge as a systemd service on Raspberry Pi OS / Debian bookworm (arm64, armhf).
#
#   sudo tools/service/install.sh [--package TARBALL|DIR] [--root DIR] [--dry-run] [--no-start]
#
#   --package   an `npm pack` tarball (carbonedge-X.Y.Z.tgz) or a source directory, which is
#               packed first (default: the checkout this script is in)
#   --root DIR  install into DIR as if it were / (DESTDIR-style, for tests and image builds):
#               files are written under DIR, users and groups go to DIR/etc/passwd|group
#               (systemd-sysusers --root), the unit is enabled with systemctl --root; commands
#               that act on the running system (npm install -g, daemon-reload, restart) are
#               printed and listed in DIR/var/lib/carbonedge-install/deferred.txt, not run
#   --dry-run   print each step, change nothing
#   --no-start  install and enable, but do not (re)start the service
#
# Steps: check Node >= 20; install the package globally (npm install -g of the tarball, kept in
# /var/lib/carbonedge-packages for rollback); user carbonedge in dialout and gpio (sysusers.d);
# /etc/carbonedge (site.yaml sample if none, profiles/) and /var/lib/carbonedge; the unit;
# `carbonedge check` of /etc/carbonedge/site.yaml; then enable (and restart) the service.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"
PACKAGE="$SRC"
ROOT=""
DRY=0
START=1
NATIVE="better-sqlite3,@serialport/bindings-cpp,epoll"

die() { echo "install.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --package) PACKAGE="${2:?--package needs a tarball or directory}"; shift 2 ;;
    --root) ROOT="$(mkdir -p "${2:?--root needs a directory}" && cd "$2" && pwd)"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --no-start) START=0; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

step() { echo "==> $*"; }
# Change something on disk or in the root: printed always, skipped in --dry-run.
run() {
  echo "+ $*"
  [ "$DRY" = 1 ] || "$@"
}
# Act on the running system: in --root mode printed and recorded instead.
system() {
  if [ -n "$ROOT" ]; then
    echo "+ (deferred in --root mode) $*"
    [ "$DRY" = 1 ] || { mkdir -p "$ROOT/var/lib/carbonedge-install"; echo "$*" >> "$ROOT/var/lib/carbonedge-install/deferred.txt"; }
  else
    run "$@"
  fi
}
write_file() { # write_file MODE DEST < content
  local mode="$1" dest="$2" tmp
  echo "+ write $dest (mode $mode)"
  if [ "$DRY" = 1 ]; then cat > /dev/null; return; fi
  mkdir -p "$(dirname "$dest")"
  tmp="$dest.tmp.$$"
  cat > "$tmp"
  chmod "$mode" "$tmp"
  sync "$tmp" 2>/dev/null || true
  mv -f "$tmp" "$dest"
}

step "checking Node.js >= 20"
command -v node >/dev/null || die "node not found. Debian bookworm ships Node 18: install Node 20 or 22 from NodeSource (deb.nodesource.com, arm64 and armhf) or the nodejs.org binaries (linux-arm64, linux-armv7l); see README, 'Install on Raspberry Pi OS'"
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
[ "$NODE_MAJOR" -ge 20 ] || die "node $(node --version) is too old: carbonedge needs Node >= 20 (bookworm ships 18). Install Node 22 LTS from NodeSource (deb.nodesource.com) or nodejs.org (linux-arm64 / linux-armv7l), see README"
echo "node $(node --version) on $(uname -m)"

step "packing the package"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
if [ -d "$PACKAGE" ]; then
  run npm pack --silent --pack-destination "$TMP" "$PACKAGE"
  TARBALL="$(ls "$TMP"/carbonedge-*.tgz 2>/dev/null | head -1 || true)"
  [ -n "$TARBALL" ] || TARBALL="$TMP/carbonedge-<version>.tgz"
else
  [ -f "$PACKAGE" ] || die "--package $PACKAGE: no such file or directory"
  TARBALL="$PACKAGE"
fi
KEEP="$ROOT/var/lib/carbonedge-packages"
run mkdir -p "$KEEP"
run cp "$TARBALL" "$KEEP/"
KEPT="/var/lib/carbonedge-packages/$(basename "$TARBALL")"

step "installing the package (npm install -g)"
ALLOW=()
NPM_MAJOR="$(npm --version | cut -d. -f1)"
[ "$NPM_MAJOR" -ge 11 ] && ALLOW=(--allow-scripts="$NATIVE")
system npm install -g --omit=dev --no-audit --no-fund "${ALLOW[@]}" "$KEPT"
# Where the bin lands: the global prefix's bin (NodeSource: /usr/bin, nodejs.org tarball: /usr/local/bin).
BIN="$(npm prefix -g)/bin/carbonedge"
if [ -n "$ROOT" ]; then BIN=/usr/bin/carbonedge; CHECK_BIN=(node "$SRC/tools/carbonedge.js"); else CHECK_BIN=("$BIN"); fi

step "user carbonedge in groups dialout and gpio"
write_file 0644 "$ROOT/usr/lib/sysusers.d/carbonedge.conf" <<'SYSUSERS'
# carbonedge service user (tools/service/install.sh): serial adapters (dialout), relays (gpio).
g gpio - -
u carbonedge - "carbonedge gateway" /var/lib/carbonedge /usr/sbin/nologin
m carbonedge dialout
m carbonedge gpio
SYSUSERS
if [ -n "$ROOT" ]; then
  run mkdir -p "$ROOT/etc"
  run systemd-sysusers --root="$ROOT" "$ROOT/usr/lib/sysusers.d/carbonedge.conf"
else
  run systemd-sysusers /usr/lib/sysusers.d/carbonedge.conf
fi

step "directories /etc/carbonedge (config, profiles) and /var/lib/carbonedge (store)"
run mkdir -p "$ROOT/etc/carbonedge/profiles" "$ROOT/var/lib/carbonedge"
run chmod 0750 "$ROOT/var/lib/carbonedge"
if [ -n "$ROOT" ]; then
  OWNER="$(awk -F: '$1=="carbonedge"{print $3":"$4}' "$ROOT/etc/passwd" 2>/dev/null || true)"
  [ -z "$OWNER" ] || run chown "$OWNER" "$ROOT/var/lib/carbonedge"
else
  run chown carbonedge:carbonedge /var/lib/carbonedge
fi
if [ -e "$ROOT/etc/carbonedge/site.yaml" ]; then
  echo "keeping the existing $ROOT/etc/carbonedge/site.yaml"
else
  echo "+ ${CHECK_BIN[*]} demo --print-config > $ROOT/etc/carbonedge/site.yaml"
  if [ "$DRY" = 0 ]; then "${CHECK_BIN[@]}" demo --print-config | write_file 0644 "$ROOT/etc/carbonedge/site.yaml"; fi
fi

step "systemd unit"
sed "s#^ExecStart=/usr/bin/carbonedge #ExecStart=$BIN #" "$HERE/carbonedge.service" | write_file 0644 "$ROOT/etc/systemd/system/carbonedge.service"

step "checking the site configuration before enabling the service"
run "${CHECK_BIN[@]}" check --config "$ROOT/etc/carbonedge/site.yaml"

step "enabling the service"
if [ -n "$ROOT" ]; then
  run systemctl --root="$ROOT" enable carbonedge.service
  system systemctl daemon-reload
  [ "$START" = 0 ] || system systemctl restart carbonedge.service
else
  run systemctl daemon-reload
  run systemctl enable carbonedge.service
  [ "$START" = 0 ] || run systemctl restart carbonedge.service
fi
step "done: logs with journalctl -u carbonedge -f; edit /etc/carbonedge/site.yaml, then carbonedge check --config /etc/carbonedge/site.yaml && systemctl restart carbonedge"
