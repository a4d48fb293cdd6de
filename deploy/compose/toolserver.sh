#!/bin/sh
# The compose tool server: the mounted kubeconfig when there is one, else the simulated sandbox cluster.
set -eu
if [ ! -f /kube/config ]; then
  echo "toolserver: no kubeconfig in /kube: starting the SIMULATED sandbox cluster (namespace 'shop')" >&2
  python -m sandbox --port 16443 --kubeconfig /tmp/sandbox.kubeconfig --scenario demo &
  while [ ! -f /tmp/sandbox.kubeconfig ]; do sleep 0.2; done
  export KUBECONFIG=/tmp/sandbox.kubeconfig
  # helm keeps releases in PostgreSQL against the sandbox (it cannot store protobuf Secrets there)
  export HELM_DRIVER=sql HELM_DRIVER_SQL_CONNECTION_STRING="$SANDBOX_HELM_DATABASE_URL"
else
  export KUBECONFIG=/kube/config
fi
exec python -m mcp_server --host 0.0.0.0 --port 8081
