#!/usr/bin/env bash
# Builds a local stand-in for the upstream `denoland/deno:<version>` image, offline, from the
# Deno binary installed on this machine, and tags it with the upstream name, so that
# `FROM denoland/deno:<version>` builds without pulling. For machines that reach no image
# registry; with a registry, the real image is simply pulled instead.
#
# The image holds: deno, the glibc libraries it links, dash as /bin/sh, tini as init, and
# upstream's entrypoint semantics (`CMD ["run", ...]` runs `deno run ...`).
#
# Usage: tools/docker/local_base_image.sh [version]   (default: the Dockerfile's DENO_VERSION)
set -euo pipefail

dockerfile="$(dirname "$0")/../../Dockerfile"
version=${1:-$(sed -n 's/^ARG DENO_VERSION=//p' "$dockerfile")}
tag="denoland/deno:$version"
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag: present"
  exit 0
fi

deno_bin=$(readlink -f "$(command -v deno)")
if ! head -c4 "$deno_bin" | grep -q ELF; then
  # npm's deno package puts a launcher first on PATH; the binary sits in a platform package.
  deno_bin=$(find "$(npm root -g 2>/dev/null)" -path '*@deno/linux-x64-glibc/deno' -type f | head -1)
fi
[ -n "$deno_bin" ] && head -c4 "$deno_bin" | grep -q ELF || {
  echo "local_base_image: cannot find the deno binary" >&2
  exit 1
}
installed=$("$deno_bin" --version | awk 'NR==1{print $2}')
if [ "$installed" != "$version" ]; then
  echo "local_base_image: the installed deno is $installed but the Dockerfile wants $version:" \
    "install that one (npm install -g deno@$version)" >&2
  exit 1
fi
tini=$(command -v tini-static || true)
[ -n "$tini" ] || tini=/usr/bin/tini-static
[ -x "$tini" ] || { echo "local_base_image: tini-static is missing (apt-get install tini)" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root"/{usr/bin,usr/local/bin,bin,etc,deno-dir,tmp}
cp "$deno_bin" "$root/usr/bin/deno"
cp /bin/dash "$root/bin/sh"
cp "$tini" "$root/tini"
for lib in $( (ldd "$deno_bin"; ldd /bin/dash) | grep -o '/[^ ]*' | sort -u); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
printf 'root:x:0:0:root:/root:/bin/sh\ndeno:x:1993:1993::/home/deno:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\ndeno:x:1993:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
case "$1" in
  -*|add|bench|cache|check|clean|compile|coverage|doc|eval|fmt|info|init|install|lint|outdated|remove|repl|run|serve|task|test|uninstall|update|upgrade|x) exec deno "$@";;
esac
exec "$@"
SH
chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
chmod 1777 "$root/tmp"
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin DENO_DIR=/deno-dir/ DENO_INSTALL_ROOT=/usr/local
ENTRYPOINT ["/tini", "--", "docker-entrypoint.sh"]
CMD ["--version"]
DOCKERFILE
env -u DOCKER_BUILDKIT docker build -q -t "$tag" "$ctx" 2>&1 | grep -v -i -E 'deprecated|buildx|^ *$' || true
docker image inspect "$tag" >/dev/null
echo "$tag: built locally from $deno_bin"
