#!/usr/bin/env bash
# check_layers.sh SRC [OBJDIR]: the C files under SRC/src keep to the layers of SRC/src/LAYERS.
#  - every #include "..." that names a header under src/ (as the compiler finds it: the file's
#    own directory first, then src/; "../x/x.h" is layer x) is of the file's own directory or of
#    a lower layer;
#  - with OBJDIR (a built tree, which must hold objects), every call or variable an object file
#    takes from another one is of its own directory or a lower layer, and calls between files
#    make no cycle.  test/t/021_check_layers.pl breaks a copy each way and expects a failure.
# Prints each violation and exits 1 if there is any.
set -euo pipefail
src=$1/src
objdir=${2:-}
declare -A level
n=0
while read -r line; do
	line=${line%%#*}
	[ -z "${line// /}" ] && continue
	n=$((n + 1))
	for d in $line; do level[$d]=$n; done
done < "$src/LAYERS"

realsrc=$(realpath "$src")
bad=0
fail() { echo "check_layers: $*" >&2; bad=1; }

# may FROM use TO: its own directory, or one on an earlier line of LAYERS
allowed() {
	[ "$1" = "$2" ] || [ "${level[$2]}" -lt "${level[$1]}" ]
}

for dir in "$src"/*/; do
	d=$(basename "$dir")
	[ -n "${level[$d]:-}" ] || fail "src/$d/ is in no layer of src/LAYERS"
done
for f in "$src"/*.[ch]; do
	[ -e "$f" ] && fail "${f#"$1"/} is in no layer: every C file lives in a layer's directory"
done
for f in "$src"/*/*.[ch]; do
	d=$(basename "$(dirname "$f")")
	[ -n "${level[$d]:-}" ] || continue
	while IFS=: read -r lineno inc; do
		# the header the compiler takes: the including file's directory first, then src/
		# (-I$(srcdir)/src), then PostgreSQL's; named by its real path, so that "../x/x.h"
		# or "base/../x/x.h" count as layer x
		if [ -e "$src/$d/$inc" ]; then
			path=$(realpath -m "$src/$d/$inc")
		elif [ -e "$src/$inc" ]; then
			path=$(realpath -m "$src/$inc")
		else
			continue		# a PostgreSQL header
		fi
		rel=${path#"$realsrc"/}
		case $rel in
			/*) fail "src/$d/$(basename "$f"):$lineno includes \"$inc\", outside src/"; continue ;;
			*/*) to=${rel%%/*} ;;
			*) fail "src/$d/$(basename "$f"):$lineno includes \"$inc\", which is in no layer"; continue ;;
		esac
		[ -n "${level[$to]:-}" ] || { fail "src/$d/$(basename "$f"):$lineno includes \"$inc\" of src/$to/, which is in no layer"; continue; }
		allowed "$d" "$to" ||
			fail "src/$d/$(basename "$f"):$lineno includes \"$inc\": layer $d (line ${level[$d]} of src/LAYERS) may not use layer $to (line ${level[$to]})"
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p;' "$f" |
		paste -d: <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | cut -d: -f1) -)
done

if [ -n "$objdir" ]; then
	declare -A owner
	# no object at all is a wrong OBJDIR, not a tree that keeps to its layers
	objs=()
	for o in "$objdir"/src/*/*.o; do [ -e "$o" ] && objs+=("$o"); done
	[ "${#objs[@]}" -gt 0 ] || fail "no object files under $objdir/src/*/: is $objdir a built tree?"
	for o in "${objs[@]}"; do
		name=${o#"$objdir"/src/}
		syms=$(nm --defined-only -g "$o" | awk '{print $3}') || fail "nm cannot read $o"
		while read -r sym; do if [ -n "$sym" ]; then owner[$sym]=${name%.o}; fi; done <<<"$syms"
	done
	edges=$(mktemp)
	trap 'rm -f "$edges"' EXIT
	for o in "${objs[@]}"; do
		from=${o#"$objdir"/src/}
		from=${from%.o}
		syms=$(nm -u "$o" | awk '{print $2}') || fail "nm cannot read $o"
		while read -r sym; do
			[ -n "$sym" ] || continue
			to=${owner[$sym]:-}
			[ -n "$to" ] && [ "$to" != "$from" ] || continue
			echo "$from $to" >> "$edges"
			allowed "${from%%/*}" "${to%%/*}" ||
				fail "src/$from.c uses $sym of src/$to.c: layer ${from%%/*} may not call layer ${to%%/*}"
		done <<<"$syms"
	done
	if ! loop=$(sort -u "$edges" | tsort 2>&1 >/dev/null) || [ -n "$loop" ]; then
		fail "calls between files make a cycle: $(echo "$loop" | sed 's/^tsort: //' | tr '\n' ' ')"
	fi
fi
[ "$bad" = 0 ] || { echo "check_layers: src/ breaks the layer order of src/LAYERS (docs/design.md, \"Layers\")" >&2; exit 1; }
echo "check_layers: src/ keeps to its layers"
