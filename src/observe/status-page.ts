/**
 * The status page the admin listener serves at /: one HTML file with its
 * script inline (no build step), which reads /status.json every second and
 * redraws two tables. A token goes in the address's fragment
 * (/#token=…), which browsers never send, and is sent as a Bearer header.
 */
export const statusPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d232b; background: #fafbfc; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  h2 { font-size: 1.05rem; margin: 1.6rem 0 .4rem; }
  #meta { color: #5b6470; margin-bottom: .8rem; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { padding: .3rem .6rem; border-bottom: 1px solid #e3e6ea; text-align: right; white-space: nowrap; }
  th { background: #f0f2f5; font-weight: 600; }
  th:first-child, td:first-child, td.text { text-align: left; }
  tr.idle td { color: #8a929c; }
  td.bad { color: #b3261e; font-weight: 600; }
  #error { color: #b3261e; }
</style>
</head>
<body>
<h1>Sluice</h1>
<div id="meta">loading…</div>
<div id="error"></div>
<h2>Routes</h2>
<table id="routes">
  <thead><tr><th>route</th><th>kind</th><th>calls</th><th>calls/s</th><th>errors</th><th>p50 ms</th><th>p99 ms</th><th>open</th><th>rejected</th><th>source</th></tr></thead>
  <tbody></tbody>
</table>
<h2>Upstreams</h2>
<table id="upstreams">
  <thead><tr><th>upstream</th><th>protocol</th><th>available</th><th>calls/s</th><th>p50 ms</th><th>p99 ms</th><th>retries</th><th>connect failures</th><th>ejections</th><th>queued</th><th>endpoints (health, connections, streams)</th></tr></thead>
  <tbody></tbody>
</table>
<script>
"use strict";
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const headers = token ? { authorization: "Bearer " + token } : {};
const ms = (v) => (v === null ? "–" : v < 10 ? v.toFixed(2) : v.toFixed(1));
const pct = (v) => (v === null ? "–" : (v * 100).toFixed(1) + " %");

function row(cells, cls) {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  for (const c of cells) {
    const td = document.createElement("td");
    td.textContent = String(c.text ?? c);
    if (c.cls) td.className = c.cls;
    if (c.key) td.dataset.key = c.key;
    tr.append(td);
  }
  return tr;
}

function draw(s) {
  document.getElementById("meta").textContent = s.at + " · " + s.processes + " process" + (s.processes === 1 ? "" : "es") + " · rates over the last " + s.windowSeconds + " s";
  const routes = document.querySelector("#routes tbody");
  routes.replaceChildren(...s.routes.map((r) => {
    const tr = row([
      { text: r.route, key: "route" }, { text: r.kind ?? "(gone)", cls: "text" }, { text: r.calls, key: "calls" },
      { text: r.callsPerSecond, key: "callsPerSecond" }, { text: pct(r.errorRate), cls: r.errorRate > 0 ? "bad" : "", key: "errorRate" },
      { text: ms(r.p50Ms), key: "p50Ms" }, { text: ms(r.p99Ms), key: "p99Ms" }, { text: r.open, key: "open" },
      { text: r.rejected, key: "rejected" }, { text: r.source ?? "", cls: "text" },
    ], r.callsPerSecond === 0 && r.open === 0 ? "idle" : "");
    tr.dataset.route = r.route;
    return tr;
  }));
  const ups = document.querySelector("#upstreams tbody");
  ups.replaceChildren(...s.upstreams.map((u) => {
    const tr = row([
      u.name, { text: u.protocol, cls: "text" }, { text: u.available ? "yes" : "no", cls: u.available ? "" : "bad" },
      u.callsPerSecond, ms(u.p50Ms), ms(u.p99Ms), u.retries, u.connectFailures, u.ejections, u.queued,
      { text: u.endpoints.map((e) => e.address + " (" + e.health + ", " + e.connections + ", " + e.activeStreams + ")").join("; ") || "none yet", cls: "text" },
    ]);
    tr.dataset.upstream = u.name;
    return tr;
  }));
}

async function refresh() {
  try {
    const res = await fetch("status.json", { headers, cache: "no-store" });
    if (!res.ok) throw new Error((await res.json().catch(() => ({}))).message ?? "HTTP " + res.status);
    draw(await res.json());
    document.getElementById("error").textContent = "";
    document.body.dataset.updated = String(Date.now());
  } catch (e) {
    document.getElementById("error").textContent = "cannot read status.json: " + e.message;
  }
  setTimeout(refresh, 1000);
}
refresh();
</script>
</body>
</html>
`;
