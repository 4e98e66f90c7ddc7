{{/*
Names, labels and the pieces both Deployments share. Names follow frontier-operator's children
of a FrontierCluster named <prefix> (operator/frontier_operator/spec.py, builders.py).
*/}}

{{- define "frontier.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every name; at most 46 characters so "<prefix>-servicebound-svc" fits. */}}
{{- define "frontier.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 46 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 46 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 46 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "frontier.servicebound.service" -}}
{{- default (printf "%s-servicebound-svc" (include "frontier.fullname" .)) .Values.frontier.servicebound.service.name -}}
{{- end -}}
{{- define "frontier.edgebound.service" -}}
{{- default (printf "%s-edgebound-svc" (include "frontier.fullname" .)) .Values.frontier.edgebound.service.name -}}
{{- end -}}
{{- define "frontier.frontlas.service" -}}
{{- default (printf "%s-frontlas-svc" (include "frontier.fullname" .)) .Values.frontlas.controlplane.service.name -}}
{{- end -}}

{{/* frontier dials frontlas here: the Service, namespace-qualified, frontier-plane port. */}}
{{- define "frontier.frontlas.address" -}}
{{- printf "%s.%s.svc:%d" (include "frontier.frontlas.service" .) .Release.Namespace (int .Values.frontlas.controlplane.frontierPlanePort) -}}
{{- end -}}

{{/* The edgebound nodePort, or "" when the API server allocates it (as the operator). */}}
{{- define "frontier.edgebound.nodePort" -}}
{{- $svc := .Values.frontier.edgebound.service -}}
{{- include "frontier.nodePort" (dict "type" $svc.type "port" .Values.frontier.edgebound.port "nodePort" $svc.nodePort) -}}
{{- end -}}

{{/* The WebSocket port's nodePort on the edgebound Service (same rule), or "". */}}
{{- define "frontier.websocket.nodePort" -}}
{{- $ws := .Values.frontier.edgebound.websocket -}}
{{- include "frontier.nodePort" (dict "type" .Values.frontier.edgebound.service.type "port" $ws.port "nodePort" $ws.nodePort) -}}
{{- end -}}

{{/* (dict "type" SERVICE_TYPE "port" PORT "nodePort" EXPLICIT_OR_NULL) */}}
{{- define "frontier.nodePort" -}}
{{- $port := int .port -}}
{{- if and (ne .type "ClusterIP") (not (kindIs "invalid" .nodePort)) -}}
{{- .nodePort -}}
{{- else if and (eq .type "NodePort") (ge $port 30000) (le $port 32767) -}}
{{- $port -}}
{{- end -}}
{{- end -}}

{{/*
Labels; pass (dict "root" $ "component" "frontier"|"frontlas"). The instance is the release
(as Helm's conventions say); two releases in one namespace therefore never select each other's
pods, whatever their fullnameOverride.
*/}}
{{- define "frontier.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* Pod template labels: nothing that changes with a chart or app version, so a chart bump
alone never restarts the pods. */}}
{{- define "frontier.podLabels" -}}
{{ include "frontier.selectorLabels" . }}
app.kubernetes.io/component: {{ get (dict "frontier" "gateway" "frontlas" "coordinator" "frontd" "tcp-gateway") .component }}
app.kubernetes.io/part-of: frontier
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{- define "frontier.labels" -}}
{{ include "frontier.podLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "frontier.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/* Security defaults (the operator's), with the values merged over them. */}}
{{- define "frontier.podSecurityContext" -}}
{{- $defaults := dict "runAsNonRoot" true "runAsUser" 65532 "runAsGroup" 65532 "fsGroup" 65532 "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- toYaml (mustMergeOverwrite $defaults (deepCopy .)) -}}
{{- end -}}

{{- define "frontier.containerSecurityContext" -}}
{{- $defaults := dict "allowPrivilegeEscalation" false "readOnlyRootFilesystem" true "runAsNonRoot" true "capabilities" (dict "drop" (list "ALL")) -}}
{{- toYaml (mustMergeOverwrite $defaults (deepCopy .)) -}}
{{- end -}}

{{/* An HTTP probe on the metrics port. (dict "path" P "initial" N "period" N) */}}
{{- define "frontier.probe" -}}
httpGet:
  path: {{ .path }}
  port: metrics
  scheme: HTTP
initialDelaySeconds: {{ .initial }}
periodSeconds: {{ .period }}
timeoutSeconds: 3
failureThreshold: 3
{{- end -}}

{{/* Default affinity: prefer one pod per node. (dict "root" $ "component" C "values" V) */}}
{{- define "frontier.affinity" -}}
{{- if .values.affinity -}}
{{- toYaml .values.affinity -}}
{{- else -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "frontier.selectorLabels" . | nindent 12 }}
{{- end -}}
{{- end -}}

{{/* The rendered frontier.yaml (same keys as operator/frontier_operator/config.py). */}}
{{- define "frontier.frontierConfig" -}}
{{- $f := .Values.frontier -}}
{{- $tls := $f.edgebound.tls -}}
{{- $edgeListen := dict "network" "tcp" "addr" (printf "0.0.0.0:%d" (int $f.edgebound.port)) -}}
{{- if $tls.enabled -}}
{{- $edgeTLS := dict "enable" true "mtls" $tls.mtls "certs" (list (dict "cert" "/app/conf/edgebound/tls/secret/tls.crt" "key" "/app/conf/edgebound/tls/secret/tls.key")) -}}
{{- if $tls.mtls -}}
{{- $_ := set $edgeTLS "ca_certs" (list "/app/conf/edgebound/tls/ca/ca.crt") -}}
{{- end -}}
{{- $_ := set $edgeListen "tls" $edgeTLS -}}
{{- end -}}
{{- $edgebound := dict "listen" $edgeListen "edgeid_alloc_when_no_idservice_on" true -}}
{{- $ws := $f.edgebound.websocket -}}
{{- if $ws.enabled -}}
{{- /* wss:// with the edgebound certificate, as the operator */ -}}
{{- $wsListen := dict "network" "tcp" "addr" (printf "0.0.0.0:%d" (int $ws.port)) -}}
{{- if hasKey $edgeListen "tls" -}}
{{- $_ := set $wsListen "tls" (deepCopy $edgeListen.tls) -}}
{{- end -}}
{{- $_ := set $edgebound "websocket" (dict "enable" true "listen" $wsListen "path" $ws.path "origins" $ws.allowedOrigins "subprotocol" $ws.subprotocol "max_message" (int $ws.maxMessageBytes)) -}}
{{- end -}}
{{- $controlplane := dict "enable" $f.controlplane.enabled -}}
{{- if $f.controlplane.enabled -}}
{{- $_ := set $controlplane "listen" (dict "network" "tcp" "addr" (printf "0.0.0.0:%d" (int $f.controlplane.port))) -}}
{{- end -}}
{{- $frontlas := dict "enable" false -}}
{{- if .Values.frontlas.enabled -}}
{{- $frontlas = dict "enable" true "dial" (dict "network" "tcp" "addrs" (list (include "frontier.frontlas.address" .))) -}}
{{- end -}}
{{- $doc := dict
  "servicebound" (dict "listen" (dict "network" "tcp" "addr" (printf "0.0.0.0:%d" (int $f.servicebound.port))))
  "edgebound" $edgebound
  "controlplane" $controlplane
  "frontlas" $frontlas
  "observability" (dict "enable" true "addr" "0.0.0.0:9091")
-}}
{{- toYaml (mustMergeOverwrite $doc (deepCopy $f.extraConfig)) -}}
{{- end -}}

{{/* The rendered frontlas.yaml (same keys as the operator's); never the password. */}}
{{- define "frontier.frontlasConfig" -}}
{{- $fl := .Values.frontlas -}}
{{- $r := $fl.redis -}}
{{- $redis := dict "mode" $r.type -}}
{{- if $r.user -}}
{{- $_ := set $redis "username" $r.user -}}
{{- end -}}
{{- if eq $r.type "standalone" -}}
{{- if ne (len $r.addrs) 1 -}}
{{- fail "frontlas.redis.addrs: standalone needs exactly one address" -}}
{{- end -}}
{{- $_ := set $redis "standalone" (dict "network" "tcp" "addr" (first $r.addrs) "db" (int $r.db)) -}}
{{- else if eq $r.type "sentinel" -}}
{{- if not $r.masterName -}}
{{- fail "frontlas.redis.masterName is required for sentinel" -}}
{{- end -}}
{{- $_ := set $redis "sentinel" (dict "addrs" $r.addrs "master_name" $r.masterName "db" (int $r.db)) -}}
{{- else -}}
{{- if ne (int $r.db) 0 -}}
{{- fail "frontlas.redis.db must be 0 for a Redis cluster" -}}
{{- end -}}
{{- $_ := set $redis "cluster" (dict "addrs" $r.addrs) -}}
{{- end -}}
{{- $doc := dict
  "control_plane" (dict "listen" (dict "network" "tcp" "addr" (printf "0.0.0.0:%d" (int $fl.controlplane.port))))
  "frontier_plane" (dict "listen" (dict "network" "tcp" "addr" (printf "0.0.0.0:%d" (int $fl.controlplane.frontierPlanePort))) "expiration" (dict "service_meta" (int $fl.expiration.serviceMeta) "edge_meta" (int $fl.expiration.edgeMeta)))
  "redis" $redis
  "observability" (dict "enable" true "addr" "0.0.0.0:9092")
-}}
{{- toYaml (mustMergeOverwrite $doc (deepCopy $fl.extraConfig)) -}}
{{- end -}}

{{/* The Secret REDIS_PASSWORD comes from, or "" when there is no password. */}}
{{- define "frontier.redis.secretName" -}}
{{- if .Values.frontlas.redis.existingSecret -}}
{{- .Values.frontlas.redis.existingSecret -}}
{{- else if .Values.frontlas.redis.password -}}
{{- printf "%s-redis" (include "frontier.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
Listeners of one container cannot share a port: exactly the operator's rule and messages
(operator/frontier_operator/spec.py, _distinct_ports) with the values' paths, which are the
spec's paths without "spec." (tests/charts feeds both the same bad values).
Pass (dict "fields" (list (list PATH PORT) ...) "fixed" METRICS_PORT); returns the problems
joined by "; ", or "".
*/}}
{{- define "frontier.distinctPorts" -}}
{{- $seen := dict -}}
{{- $problems := list -}}
{{- range .fields -}}
{{- $where := index . 0 -}}
{{- $port := int (index . 1) -}}
{{- if eq $port (int $.fixed) -}}
{{- $problems = append $problems (printf "%s: port %d is reserved for the metrics and health endpoints" $where $port) -}}
{{- else if hasKey $seen (toString $port) -}}
{{- $problems = append $problems (printf "%s: port %d is also used by %s" $where $port (get $seen (toString $port))) -}}
{{- else -}}
{{- $_ := set $seen (toString $port) $where -}}
{{- end -}}
{{- end -}}
{{- join "; " $problems -}}
{{- end -}}

{{/* Fails the render on a port clash in either component. */}}
{{- define "frontier.validatePorts" -}}
{{- $f := .Values.frontier -}}
{{- $fields := list (list "frontier.servicebound.port" $f.servicebound.port) (list "frontier.edgebound.port" $f.edgebound.port) -}}
{{- if $f.edgebound.websocket.enabled -}}
{{- $fields = append $fields (list "frontier.edgebound.websocket.port" $f.edgebound.websocket.port) -}}
{{- end -}}
{{- if $f.controlplane.enabled -}}
{{- $fields = append $fields (list "frontier.controlplane.port" $f.controlplane.port) -}}
{{- end -}}
{{- $problems := list -}}
{{- with include "frontier.distinctPorts" (dict "fields" $fields "fixed" 9091) -}}
{{- $problems = append $problems . -}}
{{- end -}}
{{- if .Values.frontlas.enabled -}}
{{- $cp := .Values.frontlas.controlplane -}}
{{- $fields = list (list "frontlas.controlplane.port" $cp.port) (list "frontlas.controlplane.frontierPlanePort" $cp.frontierPlanePort) -}}
{{- with include "frontier.distinctPorts" (dict "fields" $fields "fixed" 9092) -}}
{{- $problems = append $problems . -}}
{{- end -}}
{{- end -}}
{{- if $problems -}}
{{- fail (join "; " $problems) -}}
{{- end -}}
{{- end -}}
