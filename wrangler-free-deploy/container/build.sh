#!/bin/sh
# Builds the Sluice image (Containerfile beside this script, the repository
# as context) with the first container engine that works here: docker (with
# its daemon running), podman or buildah. SLUICE_CONTAINER_ENGINE picks one.
#
#   wrangler-free-deploy/container/build.sh [tag]      default tag: sluice:latest
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tag=${1:-sluice:latest}

works() {
  case "$1" in
    docker) docker info >/dev/null 2>&1 ;;
    podman) podman info >/dev/null 2>&1 ;;
    buildah) buildah version >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

engine=${SLUICE_CONTAINER_ENGINE:-}
tried=""
if [ -z "$engine" ]; then
  for candidate in docker podman buildah; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    if works "$candidate"; then engine=$candidate; break; fi
    tried="$tried $candidate"
  done
fi
if [ -z "$engine" ]; then
  if [ -n "$tried" ]; then
    echo "build.sh: found$tried, but none works here (is the docker daemon running?); start one, or install podman or buildah" >&2
  else
    echo "build.sh: no container engine found; install docker, podman or buildah" >&2
  fi
  exit 1
fi

echo "build.sh: building $tag with $engine" >&2
case "$engine" in
  # BuildKit reads Containerfile.dockerignore next to the Containerfile.
  docker) exec docker build -f "$here/Containerfile" -t "$tag" "$root" ;;
  podman) exec podman build -f "$here/Containerfile" --ignorefile "$here/Containerfile.dockerignore" -t "$tag" "$root" ;;
  buildah) exec buildah bud -f "$here/Containerfile" --ignorefile "$here/Containerfile.dockerignore" -t "$tag" "$root" ;;
  *) echo "build.sh: SLUICE_CONTAINER_ENGINE=$engine is not docker, podman or buildah" >&2; exit 1 ;;
esac
