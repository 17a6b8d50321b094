#!/usr/bin/env bash
# make deb: the Debian package postgresql-NN-crmpool for this system's PostgreSQL, built the way
# Debian builds PostgreSQL extensions (debian/, postgresql-common's pg_buildext,
# dpkg-buildpackage).  NN is Debian's default version (the last of
# /usr/share/postgresql-common/supported-versions: 15 on Debian 12) or CRMPOOL_PG.
#
# It builds out of a copy of the checkout (the source tree stays as it is) and puts the .deb in
# CRMPOOL_DEB_DIR (default /tmp/crmpool-deb); the last line of its output is the .deb's path.
# As root it first installs what is missing of the build dependencies and then builds as
# CRMPOOL_USER (postgres), not as root.
set -euo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT_DIR=${CRMPOOL_DEB_DIR:-/tmp/crmpool-deb}
: "${CRMPOOL_USER:=postgres}"

log() { printf '\n==> %s\n' "$*" >&2; }

# need PACKAGE...: install the missing ones as root; otherwise say what is missing.
need() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} = 0 ] && return
	if [ "$(id -u)" != 0 ]; then
		echo "missing build dependencies; run as root or install: ${missing[*]}" >&2
		exit 1
	fi
	log "installing build dependencies: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# debian/control.in's Build-Depends (pg_buildext comes with postgresql-common, which
# postgresql-server-dev-all brings; gettext's msgfmt compiles po/), then the headers of the
# version to build for.
need debhelper postgresql-server-dev-all gettext
PGMAJOR=${CRMPOOL_PG:-$(/usr/share/postgresql-common/supported-versions | tail -n 1)}
need "postgresql-server-dev-$PGMAJOR"

# The version has one source, crmpool.control; debian/changelog must carry it as META.json does.
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$SRC_DIR/crmpool.control").0
deb_version=$(dpkg-parsechangelog -l "$SRC_DIR/debian/changelog" -S Version)
if [ "$deb_version" != "$version" ]; then
	echo "debian/changelog is at $deb_version, crmpool.control at $version: add a changelog entry" >&2
	exit 1
fi

work=$(mktemp -d /tmp/crmpool-deb-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
tree="$work/crmpool-$version"
mkdir "$tree"
# The checkout as it is, without build products (Rules-Requires-Root: no, so the build runs
# without fakeroot and writes nothing outside $work).
tar -C "$SRC_DIR" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
	--exclude='tmp_check*' --exclude=output_iso --exclude=results --exclude='crmpool-*.zip' \
	-cf - . | tar -C "$tree" -xf -
builder=()
if [ "$(id -u)" = 0 ]; then
	chown -R "$CRMPOOL_USER" "$work"
	builder=(runuser -u "$CRMPOOL_USER" --)
fi

log "building postgresql-$PGMAJOR-crmpool $version (log: $OUT_DIR/build.log)"
mkdir -p "$OUT_DIR"
# PG_SUPPORTED_VERSIONS limits pg_buildext (debian/control and the build) to that version.
if ! (cd "$tree" && "${builder[@]}" env PG_SUPPORTED_VERSIONS="$PGMAJOR" HOME="$work" \
	sh -c 'pg_buildext updatecontrol && dpkg-buildpackage -b -us -uc') >"$OUT_DIR/build.log" 2>&1; then
	tail -n 40 "$OUT_DIR/build.log" >&2
	echo "dpkg-buildpackage failed; the whole log is $OUT_DIR/build.log" >&2
	exit 1
fi

deb="postgresql-${PGMAJOR}-crmpool_${version}_$(dpkg --print-architecture).deb"
cp "$work/$deb" "$OUT_DIR/"
echo "$OUT_DIR/$deb"
