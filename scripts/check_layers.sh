#!/usr/bin/env bash
# check_layers.sh SRC [OBJDIR]: the C files under SRC/src keep to the layers of SRC/src/LAYERS.
#  - every #include "DIR/x.h" (or "x.h" of the file's own directory) names a header of the
#    file's own directory or of a lower layer;
#  - with OBJDIR (a built tree), every call or variable an object file takes from another one
#    is of its own directory or a lower layer, and calls between files make no cycle.
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
		case $inc in
			*/*) to=${inc%%/*} ;;
			*) [ -e "$src/$d/$inc" ] && to=$d || continue ;;
		esac
		[ -n "${level[$to]:-}" ] || continue		# a PostgreSQL header
		allowed "$d" "$to" ||
			fail "src/$d/$(basename "$f"):$lineno includes \"$inc\": layer $d (line ${level[$d]} of src/LAYERS) may not use layer $to (line ${level[$to]})"
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p;' "$f" |
		paste -d: <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | cut -d: -f1) -)
done

if [ -n "$objdir" ]; then
	declare -A owner
	objs=("$objdir"/src/*/*.o)
	for o in "${objs[@]}"; do
		name=${o#"$objdir"/src/}
		while read -r sym; do owner[$sym]=${name%.o}; done \
			< <(nm --defined-only -g "$o" | awk '{print $3}')
	done
	edges=$(mktemp)
	trap 'rm -f "$edges"' EXIT
	for o in "${objs[@]}"; do
		from=${o#"$objdir"/src/}
		from=${from%.o}
		while read -r sym; do
			to=${owner[$sym]:-}
			[ -n "$to" ] && [ "$to" != "$from" ] || continue
			echo "$from $to" >> "$edges"
			allowed "${from%%/*}" "${to%%/*}" ||
				fail "src/$from.c uses $sym of src/$to.c: layer ${from%%/*} may not call layer ${to%%/*}"
		done < <(nm -u "$o" | awk '{print $2}')
	done
	if ! loop=$(sort -u "$edges" | tsort 2>&1 >/dev/null) || [ -n "$loop" ]; then
		fail "calls between files make a cycle: $(echo "$loop" | sed 's/^tsort: //' | tr '\n' ' ')"
	fi
fi
[ "$bad" = 0 ] || { echo "check_layers: src/ breaks the layer order of src/LAYERS (docs/design.md, \"Layers\")" >&2; exit 1; }
echo "check_layers: src/ keeps to its layers"
