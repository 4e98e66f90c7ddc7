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

{{/*
"true" when the operator gets a ClusterRole: it serves every namespace (no watchNamespaces),
or rbac.clusterWide is set. Exact watchNamespaces get a Role + RoleBinding in each instead (no
cluster-wide Secret access; the operator then turns kopf's cluster scans off). Glob patterns
cannot be covered by Roles: they need rbac.clusterWide, said explicitly.
*/}}
{{- define "frontier-operator.clusterWide" -}}
{{- $patterns := list -}}
{{- range .Values.watchNamespaces -}}
{{- if regexMatch "[][*?!,]" . -}}
{{- $patterns = append $patterns . -}}
{{- end -}}
{{- end -}}
{{- if or (not .Values.watchNamespaces) .Values.rbac.clusterWide -}}
true
{{- else if $patterns -}}
{{- fail (printf "watchNamespaces %s: a pattern matches namespaces a Role cannot be made for; list exact namespaces, or set rbac.clusterWide=true to grant a ClusterRole (Secrets in every namespace)" (join ", " $patterns)) -}}
{{- end -}}
{{- end -}}

{{/* The rules on namespaced resources, for the ClusterRole and for each Role: exactly
deploy/operator/rbac.yaml's (tests/charts checks it). */}}
{{- define "frontier-operator.namespacedRules" -}}
- apiGroups: [frontier.singchia.io]
  resources: [frontierclusters]
  verbs: [get, list, watch, patch]
- apiGroups: [frontier.singchia.io]
  resources: [frontierclusters/status]
  verbs: [get, patch]
- apiGroups: [frontier.singchia.io]
  resources: [frontierclusters/finalizers]
  verbs: [update]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [services, configmaps]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
