{{/* Names and labels shared by the templates. */}}

{{- define "frontier-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "frontier-operator.fullname" -}}
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

{{- define "frontier-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "frontier-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Pod template labels: nothing that changes with a chart or app version (a chart bump alone
must not restart the operator). */}}
{{- define "frontier-operator.podLabels" -}}
{{ include "frontier-operator.selectorLabels" . }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: frontier
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "frontier-operator.labels" -}}
{{ include "frontier-operator.podLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "frontier-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "frontier-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "frontier-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
