{{/*
Names and labels shared by every template; all prefixed with the chart name so
they never collide with a parent chart's helpers.
*/}}

{{- define "seedcoder-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Object name prefix: the release name, with the chart name appended unless the
release name already contains it. Truncated to 63 characters (DNS label).
*/}}
{{- define "seedcoder-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "seedcoder-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "seedcoder-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "seedcoder-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "seedcoder-operator.labels" -}}
helm.sh/chart: {{ include "seedcoder-operator.chart" . }}
{{ include "seedcoder-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: seedcoder
{{- end }}

{{- define "seedcoder-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "seedcoder-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference; a digest wins over the tag. */}}
{{- define "seedcoder-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "seedcoder-operator.gatewayImage" -}}
{{- default (include "seedcoder-operator.image" .) .Values.operator.gatewayImage }}
{{- end }}

{{- define "seedcoder-operator.dashboardsNamespace" -}}
{{- default .Values.monitoring.namespace .Values.monitoring.dashboards.namespace }}
{{- end }}

{{/* The operator's PolicyRules: one list, owned by the operator, shared by every (Cluster)Role. */}}
{{- define "seedcoder-operator.rbacRules" -}}
{{- .Files.Get "files/rbac-rules.yaml" }}
{{- end }}
