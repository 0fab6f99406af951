#!/usr/bin/env bash
# The installed library as a consumer meets it: install into a temporary
# prefix, then build the README's example three ways (pkg-config shared,
# pkg-config static, CMake find_package) and compile every installed header
# on its own as strict C11 and as C++17 with nothing but
# `pkg-config --cflags agentcore`.
#   test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
step() { echo "== $*"; }

step "install into $prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
test -e "$prefix/lib/libagentcore.so.0" || { echo "no SONAME link libagentcore.so.0"; exit 1; }
soname=$(objdump -p "$prefix/lib/libagentcore.so" | awk '/SONAME/ {print $2}')
[ "$soname" = libagentcore.so.0 ] || { echo "SONAME is '$soname'"; exit 1; }

step "README example"
# The first C block under "## Using the library" is the example users copy.
awk '/^## Using the library/ {f=1} f && /^```c$/ {c=1; next} c && /^```$/ {exit} c' \
    "$src/README.md" > "$tmp/app.c"
grep -q 'ac_runtime_create' "$tmp/app.c" || { echo "example not found in README"; exit 1; }
expect_run() { # program: the example prints one line from the last shard
    local out
    out=$("$@")
    echo "$out"
    grep -q '^shard [0-9]* got "hi from shard 0"$' <<<"$out"
}

step "pkg-config, shared"
cc -std=c11 -Wall -Wextra -Werror "$tmp/app.c" -o "$tmp/app_shared" \
   $(pkg-config --cflags --libs agentcore)
expect_run env LD_LIBRARY_PATH="$prefix/lib" "$tmp/app_shared"
deps=$(LD_LIBRARY_PATH="$prefix/lib" ldd "$tmp/app_shared")
grep -q "$prefix/lib/libagentcore.so.0" <<<"$deps"

step "pkg-config, static (-static: every dependency from its .a)"
cc -std=c11 -Wall -Wextra -Werror -static "$tmp/app.c" -o "$tmp/app_static" \
   $(pkg-config --cflags --libs --static agentcore)
expect_run "$tmp/app_static"

step "CMake find_package"
mkdir -p "$tmp/cm"
cp "$tmp/app.c" "$tmp/cm/app.c"
cat > "$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(agentcore 0 CONFIG REQUIRED)
add_executable(app app.c)
target_link_libraries(app PRIVATE agentcore::agentcore)
add_executable(app_static app.c)
target_link_libraries(app_static PRIVATE agentcore::agentcore_static)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/b" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/cm/b" >/dev/null
expect_run "$tmp/cm/b/app"
expect_run "$tmp/cm/b/app_static"

step "every header alone: gcc -std=c11 -pedantic, g++ -std=c++17"
cflags=$(pkg-config --cflags agentcore)
n=0
for h in "$prefix"/include/agentcore.h "$prefix"/include/agentcore/*.h; do
    rel=${h#"$prefix"/include/}
    echo "#include <$rel>" > "$tmp/h.c"
    gcc -std=c11 -Wall -Wextra -pedantic -Werror -fsyntax-only $cflags "$tmp/h.c"
    g++ -std=c++17 -Wall -Wextra -pedantic -Werror -fsyntax-only $cflags -x c++ "$tmp/h.c"
    n=$((n + 1))
done
echo "$n headers compiled as C11 and C++17"
