{{- define "serinus.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "serinus.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "serinus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ default (include "serinus.fullname" .) .Values.serviceAccount.name }}
{{- else -}}
{{ default "default" .Values.serviceAccount.name }}
{{- end -}}
{{- end -}}

{{- define "serinus.selectorLabels" -}}
app.kubernetes.io/name: {{ include "serinus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The bundled Prometheus's pod labels (prometheus.install): apart from the operator's, so neither selects the other. */}}
{{- define "serinus.prometheusSelectorLabels" -}}
app.kubernetes.io/name: {{ include "serinus.name" . }}-prometheus
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The bundled Prometheus's object labels: not the operator's, so the ServiceMonitor does not select its Service. */}}
{{- define "serinus.prometheusLabels" -}}
{{ include "serinus.prometheusSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The bundled Prometheus's address, as Flagger's chart gives it to -metrics-server (the same namespace). */}}
{{- define "serinus.prometheusURL" -}}
http://{{ include "serinus.fullname" . }}-prometheus:9090
{{- end -}}

{{- define "serinus.labels" -}}
{{ include "serinus.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}


{{/* The image: a values file written for Flagger's chart names Flagger's image, which is replaced by Serinus's. */}}
{{- define "serinus.image" -}}
{{- if contains "fluxcd/flagger" .Values.image.repository -}}
ghcr.io/serinus-dev/serinus:{{ .Chart.AppVersion }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* Flagger's template names, which values files written for Flagger's chart use (its default affinity does). */}}
{{- define "flagger.name" -}}{{ include "serinus.name" . }}{{- end -}}
{{- define "flagger.fullname" -}}{{ include "serinus.fullname" . }}{{- end -}}
{{- define "flagger.serviceAccountName" -}}{{ include "serinus.serviceAccountName" . }}{{- end -}}
