{{- define "skyflo.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "skyflo.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* selector labels of one component: (dict "root" $ "component" "web") */}}
{{- define "skyflo.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "skyflo.secretName" -}}
{{- .Values.config.existingSecret | default (printf "%s-config" (include "skyflo.fullname" .)) -}}
{{- end -}}

{{- define "skyflo.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "skyflo.toolserverUrl" -}}
{{- printf "http://%s-toolserver:%v/mcp" (include "skyflo.fullname" .) .Values.toolserver.port -}}
{{- end -}}

{{- define "skyflo.allowedHosts" -}}
{{- $hosts := .Values.config.allowedHosts -}}
{{- if and (not $hosts) .Values.web.ingress.host -}}{{- $hosts = list .Values.web.ingress.host -}}{{- end -}}
{{- $hosts = append $hosts (printf "%s-web" (include "skyflo.fullname" .)) -}}
{{- join "," $hosts -}}
{{- end -}}

{{/* Restricted pod security (Pod Security Standards "restricted"). */}}
{{- define "skyflo.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "skyflo.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "skyflo.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- include "skyflo.podSecurityContext" . | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The writable scratch space: the root filesystem is read-only. */}}
{{- define "skyflo.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end -}}

{{- define "skyflo.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "skyflo.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "skyflo.secretName" .root }}
      key: {{ .name }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/* Environment of the Django processes (web, worker, beat, migrations). */}}
{{- define "skyflo.djangoEnv" -}}
{{- range $name := list "DATABASE_URL" "REDIS_URL" "DJANGO_SECRET_KEY" "MCP_SERVER_TOKEN" }}
{{ include "skyflo.secretEnv" (dict "root" $ "name" $name) }}
{{- end }}
{{ include "skyflo.secretEnv" (dict "root" . "name" "LLM_API_KEY" "optional" true) }}
{{ include "skyflo.secretEnv" (dict "root" . "name" "SKYFLO_METRICS_TOKEN" "optional" true) }}
- name: DJANGO_ALLOWED_HOSTS
  value: {{ include "skyflo.allowedHosts" . | quote }}
- name: CSRF_TRUSTED_ORIGINS
  value: {{ join "," .Values.config.csrfTrustedOrigins | quote }}
- name: DJANGO_SECURE_SSL_REDIRECT
  value: {{ ternary "1" "0" .Values.config.secureSslRedirect | quote }}
- name: SKYFLO_TRUSTED_PROXIES
  value: {{ join "," .Values.config.trustedProxies | quote }}
- name: LLM_BASE_URL
  value: {{ .Values.config.llmBaseUrl | quote }}
- name: LLM_MODEL
  value: {{ .Values.config.llmModel | quote }}
- name: LLM_API_VERSION
  value: {{ .Values.config.llmApiVersion | quote }}
- name: LLM_REASONING_EFFORT
  value: {{ .Values.config.llmReasoningEffort | quote }}
- name: LLM_EXTRA_HEADERS
  value: {{ ternary "" (toJson .Values.config.llmExtraHeaders) (empty .Values.config.llmExtraHeaders) | quote }}
- name: SKYFLO_LLM_PRICES
  value: {{ ternary "" (toJson .Values.config.llmPrices) (empty .Values.config.llmPrices) | quote }}
- name: SKYFLO_MCP_ALLOWED_NETWORKS
  value: {{ join "," .Values.config.mcpAllowedNetworks | quote }}
- name: SKYFLO_DB_POOL_SIZE
  value: {{ .Values.config.dbPoolSize | quote }}
- name: SKYFLO_PUBLIC_URL
  value: {{ .Values.config.publicUrl | quote }}
- name: MCP_SERVER_URL
  value: {{ include "skyflo.toolserverUrl" . | quote }}
- name: SKYFLO_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: SKYFLO_LOG_FORMAT
  value: json
- name: SKYFLO_VAR_DIR
  value: /tmp/skyflo
- name: DJANGO_STATIC_ROOT
  value: /tmp/staticfiles
- name: HOME
  value: /tmp
{{- with .Values.config.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "skyflo.container" -}}
image: {{ include "skyflo.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- include "skyflo.containerSecurityContext" . | nindent 2 }}
volumeMounts:
  {{- include "skyflo.tmpMount" . | nindent 2 }}
{{- end -}}
