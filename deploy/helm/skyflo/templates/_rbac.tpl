{{/*
What the tool server may touch. Listed resource by resource: RBAC only adds, so "everything but Secrets"
cannot be written with wildcards. Secrets are readable only with toolserver.readSecrets; RBAC objects are never
writable (that would let the agent grant itself more).
*/}}
{{- define "skyflo.rbac.resources" -}}
"": [pods, pods/log, services, endpoints, configmaps, serviceaccounts, events, persistentvolumeclaims, replicationcontrollers, resourcequotas, limitranges]
apps: [deployments, deployments/scale, replicasets, replicasets/scale, statefulsets, statefulsets/scale, daemonsets, controllerrevisions]
batch: [jobs, cronjobs]
networking.k8s.io: [ingresses, networkpolicies]
autoscaling: [horizontalpodautoscalers]
policy: [poddisruptionbudgets]
discovery.k8s.io: [endpointslices]
events.k8s.io: [events]
{{- end -}}

{{- define "skyflo.rbac.clusterResources" -}}
"": [namespaces, nodes, persistentvolumes]
storage.k8s.io: [storageclasses]
networking.k8s.io: [ingressclasses]
apiextensions.k8s.io: [customresourcedefinitions]
{{- end -}}

{{/* (dict "root" $ "cluster" true|false) */}}
{{- define "skyflo.rbac.rules" -}}
{{- $v := .root.Values.toolserver -}}
{{- $read := list "get" "list" "watch" -}}
{{- $write := list "create" "update" "patch" "delete" "deletecollection" -}}
{{- $groups := include "skyflo.rbac.resources" . | fromYaml -}}
{{- if .cluster }}
{{- range $group, $resources := include "skyflo.rbac.clusterResources" . | fromYaml }}
{{- $_ := set $groups $group (concat (index $groups $group | default list) $resources) }}
{{- end }}
{{- end }}
{{- range $group := keys $groups | sortAlpha }}
- apiGroups: [{{ $group | quote }}]
  resources: {{ index $groups $group | toJson }}
  verbs: {{ $read | toJson }}
{{- end }}
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"{{ if .cluster }}, "clusterroles", "clusterrolebindings"{{ end }}]
  verbs: {{ $read | toJson }}
{{- if $v.readSecrets }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: {{ $read | toJson }}
{{- end }}
{{- if $v.write }}
{{- range $group := keys $groups | sortAlpha }}
- apiGroups: [{{ $group | quote }}]
  resources: {{ without (index $groups $group) "namespaces" "persistentvolumes" "customresourcedefinitions" "storageclasses" "ingressclasses" "events" "pods/log" | toJson }}
  verbs: {{ $write | toJson }}
{{- end }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods/eviction"]
  verbs: ["create"]
{{- end }}
{{- end -}}
