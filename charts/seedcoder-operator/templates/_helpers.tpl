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

{{/*
One image reference from {registry, repository, tag, digest}: global.imageRegistry
replaces the registry; a digest wins over the tag; an empty tag is the appVersion.
The same rule as seedcoder.images (a test renders both and compares).
Call with (dict "image" <values> "root" $).
*/}}
{{- define "seedcoder-operator.imageRef" -}}
{{- $img := .image -}}
{{- $registry := default $img.registry .root.Values.global.imageRegistry -}}
{{- $repo := $img.repository -}}
{{- if $registry }}{{ $repo = printf "%s/%s" $registry $img.repository }}{{ end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end }}

{{/* The operator's own image (the seedcoder image). */}}
{{- define "seedcoder-operator.image" -}}
{{- include "seedcoder-operator.imageRef" (dict "image" .Values.image "root" .) -}}
{{- end }}

{{/* The gateway's image: images.gateway, each empty field taken from image. */}}
{{- define "seedcoder-operator.gatewayImage" -}}
{{- $gw := .Values.images.gateway -}}
{{- $sameRepo := or (not $gw.repository) (eq $gw.repository .Values.image.repository) -}}
{{- $img := dict "registry" (default .Values.image.registry $gw.registry) "repository" (default .Values.image.repository $gw.repository) "tag" (default .Values.image.tag $gw.tag) "digest" (default (ternary .Values.image.digest "" $sameRepo) $gw.digest) -}}
{{- include "seedcoder-operator.imageRef" (dict "image" $img "root" .) -}}
{{- end }}

{{/* imagePullSecrets of the operator pod: global names, then the chart's own. */}}
{{- define "seedcoder-operator.imagePullSecrets" -}}
{{- $out := list -}}
{{- range .Values.global.imagePullSecrets }}{{ $out = append $out (dict "name" .) }}{{ end -}}
{{- range .Values.imagePullSecrets }}{{ $out = append $out . }}{{ end -}}
{{- if $out }}
imagePullSecrets:
{{- toYaml $out | nindent 2 }}
{{- end }}
{{- end }}

{{- define "seedcoder-operator.dashboardsNamespace" -}}
{{- default .Values.monitoring.namespace .Values.monitoring.dashboards.namespace }}
{{- end }}

{{/* The operator's PolicyRules: one list, owned by the operator, shared by every (Cluster)Role. */}}
{{- define "seedcoder-operator.rbacRules" -}}
{{- .Files.Get "files/rbac-rules.yaml" }}
{{- end }}

{{/*
monitoring.selectorLabels as the operator reads them: key=value pairs, comma-separated, sorted.
*/}}
{{- define "seedcoder-operator.monitoringLabels" -}}
{{- $pairs := list }}
{{- range $k, $v := .Values.monitoring.selectorLabels }}
{{- $pairs = append $pairs (printf "%s=%s" $k $v) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}
