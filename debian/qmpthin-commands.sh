#!/bin/sh
# Prints a help2man include file with a COMMANDS section: the --help of
# each command that `qmpthin --help` lists, verbatim.
set -eu
tool=$1

echo "[COMMANDS]"
"$tool" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF > 0 { print $1 }' |
while read -r command; do
  printf '.SS "%s"\n.nf\n' "$command"
  # roff: backslashes and minus signs escaped, no line starting with a
  # control character.
  LC_ALL=C.UTF-8 "$tool" "$command" --help | sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
  printf '.fi\n'
done
