#!/usr/bin/env bash
# make dist: the PGXN archive crmpool-X.Y.Z.zip of the committed tree (HEAD), written to the top
# of the checkout.  Usage (from the Makefile): scripts/dist.sh PG_CONFIG GENERATED...
#
# GENERATED are the scripts the Makefile makes from sql/parts and sql/upgrade (the install
# script of the current version and the upgrade script) and the compiled translations
# (po/LANG.mo).  They are built from HEAD's sources and added to the archive, so that
# META.json's provides.crmpool.file, the install script, is in it as PGXN expects, and building
# needs no msgfmt; `make` in the unpacked archive finds them up to date or remakes them.
set -euo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pg_config=$1
shift
cd "$SRC_DIR"

version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" crmpool.control).0
name="crmpool-$version"
if ! git diff --quiet HEAD; then
	echo "note: the archive holds HEAD, not the uncommitted changes of the working tree" >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive --prefix="$name/" HEAD | tar -x -C "$tmp"
make -s -C "$tmp/$name" PG_CONFIG="$pg_config" "$@"

# --add-file puts a file under the last --prefix given before it; the tree gets the last one.
args=()
for f in "$@"; do
	args+=("--prefix=$name/$(dirname "$f")/" "--add-file=$tmp/$name/$f")
done
git archive --format=zip "${args[@]}" --prefix="$name/" -o "$SRC_DIR/$name.zip" HEAD
echo "$SRC_DIR/$name.zip"
