#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every C++ file of the project is as clang-format (.clang-format) writes it.
set -euo pipefail
cd "$1"
mapfile -t files < <(git ls-files -- '*.cpp' '*.hpp' '*.h' 2>/dev/null ||
                     find protocol auth server tests bench -name '*.cpp' -o -name '*.hpp')
clang-format --dry-run -Werror "${files[@]}"
echo "clang-format: ${#files[@]} files as .clang-format writes them"
