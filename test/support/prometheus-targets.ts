// What a Prometheus scrape job makes of the pods it discovers, without a
// cluster or a Prometheus: the targets kubernetes_sd_configs (role: pod)
// lists for a pod, and what the job's relabel_configs leave of them. Enough
// of both to check that a job in wrangler-free-deploy/ finds exactly the
// admin listener of the pods a manifest describes.

/** A pod as the scrape job would discover it. */
export interface DiscoveredPod {
  name: string;
  namespace: string;
  ip: string;
  labels: Record<string, string>;
  containers: { name: string; ports?: { name?: string; containerPort: number; protocol?: string }[] }[];
}

/** One rule of relabel_configs (the fields the deploy kit's jobs use). */
export interface RelabelRule {
  source_labels?: string[];
  separator?: string;
  regex?: string;
  target_label?: string;
  replacement?: string;
  action?: "replace" | "keep" | "drop";
}

/** One entry of kubernetes_sd_configs. */
export interface KubernetesSdConfig {
  role: string;
  namespaces?: { names?: string[] };
  selectors?: { role: string; label?: string }[];
}

/** Prometheus's label-name sanitizing: app.kubernetes.io/name → app_kubernetes_io_name. */
const sanitize = (name: string) => name.replace(/[^a-zA-Z0-9_]/g, "_");

/**
 * The targets role: pod discovers: one per declared container port, with
 * __address__ = <pod IP>:<port> and the __meta_kubernetes_* labels the
 * scrape configs here read; a container with no port gives one target at
 * the bare pod IP. Pods outside the config's namespaces, or not matching its
 * label selectors (equality terms, as `a=b,c=d`), are not discovered.
 */
export function discover(sd: KubernetesSdConfig, pods: DiscoveredPod[]): Record<string, string>[] {
  if (sd.role !== "pod") throw new Error(`role ${sd.role}: only role pod is modelled`);
  const out: Record<string, string>[] = [];
  for (const pod of pods) {
    if (sd.namespaces?.names && !sd.namespaces.names.includes(pod.namespace)) continue;
    const selected = (sd.selectors ?? []).filter((s) => s.role === "pod").every((s) =>
      (s.label ?? "").split(",").filter((t) => t !== "").every((term) => {
        const m = /^([^=!]+)==?(.*)$/.exec(term.trim());
        if (!m) throw new Error(`label selector term ${term}: only equality is modelled`);
        return pod.labels[m[1]!] === m[2];
      }));
    if (!selected) continue;
    const podLabels: Record<string, string> = {
      __meta_kubernetes_namespace: pod.namespace,
      __meta_kubernetes_pod_name: pod.name,
      __meta_kubernetes_pod_ip: pod.ip,
    };
    for (const [k, v] of Object.entries(pod.labels)) {
      podLabels[`__meta_kubernetes_pod_label_${sanitize(k)}`] = v;
      podLabels[`__meta_kubernetes_pod_labelpresent_${sanitize(k)}`] = "true";
    }
    const host = pod.ip.includes(":") ? `[${pod.ip}]` : pod.ip;
    for (const c of pod.containers) {
      const base = { ...podLabels, __meta_kubernetes_pod_container_name: c.name };
      if (!c.ports?.length) {
        out.push({ ...base, __address__: host });
        continue;
      }
      for (const p of c.ports) {
        out.push({
          ...base,
          __address__: `${host}:${p.containerPort}`,
          __meta_kubernetes_pod_container_port_name: p.name ?? "",
          __meta_kubernetes_pod_container_port_number: String(p.containerPort),
          __meta_kubernetes_pod_container_port_protocol: p.protocol ?? "TCP",
        });
      }
    }
  }
  return out;
}

/**
 * Applies relabel_configs as Prometheus does for the actions used here:
 * source label values joined by `separator` (";"), matched against the
 * fully anchored `regex` ("(.*)"); replace writes `replacement` ("$1", with
 * $N and ${N} expanded) to `target_label`, keep drops a target that does not
 * match, drop one that does.
 */
export function relabel(targets: Record<string, string>[], rules: RelabelRule[]): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  next: for (const target of targets) {
    const t = { ...target };
    for (const rule of rules) {
      const value = (rule.source_labels ?? []).map((l) => t[l] ?? "").join(rule.separator ?? ";");
      const m = new RegExp(`^(?:${rule.regex ?? "(.*)"})$`).exec(value);
      const action = rule.action ?? "replace";
      if (action === "keep" && !m) continue next;
      if (action === "drop" && m) continue next;
      if (action === "replace" && m) {
        if (!rule.target_label) throw new Error("a replace rule without target_label");
        const result = (rule.replacement ?? "$1").replace(/\$\{(\d+)\}|\$(\d+)/g, (_, a: string | undefined, b: string | undefined) => m[Number(a ?? b)] ?? "");
        if (result === "") delete t[rule.target_label];
        else t[rule.target_label] = result;
      } else if (action !== "keep" && action !== "drop" && action !== "replace") {
        throw new Error(`relabel action ${String(action)} is not modelled`);
      }
    }
    out.push(t);
  }
  return out;
}
