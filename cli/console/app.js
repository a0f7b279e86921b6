/* The run console. Everything shown comes from the server (run records and published files); the only state is
 * the address: `#/?status=&workflow=` for the list, `#/run/<id>?state=<name>&all=1` for a run. A run that is
 * still going is fetched again every POLL_MS and redrawn. Layout of the graph: dagre; map: Leaflet. */
"use strict";

const POLL_MS = 1000;
const SVG = "http://www.w3.org/2000/svg";
const STATUS_COLORS = {
  SUCCEEDED: "#2e8540", FAILED: "#c62828", CAUGHT: "#ef6c00", RUNNING: "#1565c0", ABORTED: "#616161",
  TIMED_OUT: "#6a1b9a", PARTIAL: "#b28704", NOT_RUN: "#e0e0e0",
};
const PISTE_COLORS = { novice: "#2e7d32", easy: "#2e7d32", intermediate: "#1565c0", advanced: "#c62828", expert: "#212121", freeride: "#ef6c00" };

let current = { runId: null, timer: null, map: null, outputsFor: null };

// ---------------------------------------------------------------------------------------------------- helpers

function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : String(c));
  return el;
}
const statusBadge = (status) => h("span", { class: `status status-${status}`, "data-status": status, text: status });
const seconds = (ms) => (ms === null || ms === undefined ? "" : ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`);
const bytes = (n) => (n === null || n === undefined ? "" : n < 1024 ? `${n} B` : n < 2 ** 20 ? `${(n / 1024).toFixed(1)} KiB` : n < 2 ** 30 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 2 ** 30).toFixed(2)} GiB`);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
const pretty = (v) => (typeof v === "string" ? prettyText(v) : JSON.stringify(v, null, 2));
function prettyText(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
async function getJson(url) {
  const res = await fetch(url, { cache: "no-store" });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${(await res.text()).slice(0, 200)}`);
  return res.json();
}
function route() {
  const [pathPart, query = ""] = location.hash.replace(/^#/, "").split("?");
  return { path: pathPart || "/", params: new URLSearchParams(query) };
}
function setParams(changes) {
  const { path, params } = route();
  for (const [k, v] of Object.entries(changes)) (v === null || v === "" ? params.delete(k) : params.set(k, v));
  const q = params.toString();
  location.hash = `#${path}${q ? `?${q}` : ""}`;
}

// ------------------------------------------------------------------------------------------------- run list

async function showRuns(params) {
  const runs = await getJson("/api/runs");
  const status = params.get("status") ?? "";
  const workflow = params.get("workflow") ?? "";
  const options = (values, selected) => [h("option", { value: "", text: "all" }), ...values.map((v) => h("option", { value: v, selected: v === selected, text: v }))];
  const shown = runs.filter((r) => (!status || r.status === status) && (!workflow || r.workflow === workflow));
  const view = h(
    "section",
    { id: "runs" },
    h("h1", { text: "Runs" }),
    h(
      "div",
      { class: "filters" },
      h("label", {}, "status ", h("select", { id: "filter-status", onchange: (e) => setParams({ status: e.target.value }) }, options([...new Set(runs.map((r) => r.status))].sort(), status))),
      h("label", {}, "workflow ", h("select", { id: "filter-workflow", onchange: (e) => setParams({ workflow: e.target.value }) }, options([...new Set(runs.map((r) => r.workflow))].sort(), workflow))),
      h("span", { class: "muted", text: `${shown.length} of ${runs.length} runs` }),
    ),
    h(
      "table",
      { id: "runs-table" },
      h("thead", {}, h("tr", {}, ["status", "workflow", "input", "started", "duration", "outputs", "run"].map((t) => h("th", { text: t })))),
      h(
        "tbody",
        {},
        shown.map((r) =>
          h(
            "tr",
            { "data-run": r.id, "data-status": r.status, "data-workflow": r.workflow },
            h("td", {}, statusBadge(r.status)),
            h("td", { text: r.workflow }),
            h("td", { text: Object.entries(r.key_input).map(([k, v]) => `${k}=${v}`).join(" ") }),
            h("td", { text: when(r.started_at) }),
            h("td", { class: "num", text: seconds(r.duration_ms) }),
            h("td", { text: r.outputs ? `${r.outputs} (${r.files} files)` : r.children ? `${r.children} child runs` : "" }),
            h("td", {}, h("a", { href: `#/run/${encodeURIComponent(r.id)}`, text: r.id })),
          ),
        ),
      ),
    ),
  );
  document.getElementById("view").replaceChildren(view);
}

// ------------------------------------------------------------------------------------------------------ a run

async function showRun(id, params) {
  const record = await getJson(`/api/runs/${encodeURIComponent(id)}`);
  if (current.runId !== id) return; // the address changed meanwhile
  const view = document.getElementById("view");
  let sections = view.querySelector("#run-sections");
  if (!sections || sections.dataset.run !== id) {
    sections = h(
      "div",
      { id: "run-sections", "data-run": id },
      h("section", { id: "run-header" }),
      h("section", { id: "graph-section" }),
      h("section", { id: "timeline-section" }),
      h("section", { id: "children-section", hidden: true }),
      h("section", { id: "outputs-section" }),
      h("section", { id: "history-section" }),
    );
    view.replaceChildren(sections);
  }
  renderHeader(record);
  renderGraph(record, params);
  renderTimeline(record);
  renderChildren(record);
  renderHistory(record);
  if (record.status !== "RUNNING" && current.outputsFor !== id) {
    current.outputsFor = id;
    await renderOutputs(record);
  } else if (record.status === "RUNNING") {
    document.getElementById("outputs-section").replaceChildren(h("h2", { text: "Outputs" }), h("p", { class: "muted", text: "published when the run ends" }));
  }
  const live = record.status === "RUNNING";
  document.getElementById("live").hidden = !live;
  document.body.dataset.runStatus = record.status;
  if (live) current.timer = setTimeout(() => showRun(id, route().params).catch(showError), POLL_MS);
}

function renderHeader(r) {
  const error = r.error
    ? h("div", { id: "run-error" }, h("p", { class: "line", text: r.error.line }), h("div", { class: "muted", text: `Error: ${r.error.error}` }), h("details", { open: true }, h("summary", { text: "Cause" }), h("pre", { class: "cause", text: prettyText(r.error.cause) })))
    : null;
  document.getElementById("run-header").replaceChildren(
    h("h1", {}, `${r.workflow} `, h("span", { class: "muted", text: r.id }), " ", h("span", { id: "run-status" }, statusBadge(r.status))),
    h(
      "div",
      { class: "muted" },
      `${r.source} · execution ${r.execution.name} · started ${when(r.started_at)}`,
      r.duration_ms !== null ? ` · ${seconds(r.duration_ms)}` : " · running",
      r.estimated_fargate_cost_usd !== null ? ` · est. Fargate $${r.estimated_fargate_cost_usd.toFixed(5)}` : "",
      r.parent ? h("span", {}, " · part of ", h("a", { href: `#/run/${encodeURIComponent(r.parent.id)}`, text: r.parent.id })) : null,
    ),
    h("div", {}, h("span", { class: "muted", text: "input " }), h("code", { text: JSON.stringify(r.input) })),
    ...(error ? [error] : []),
  );
}

// ---------------------------------------------------------------------------------------------------- graph

/** Every state of the ASL (Map iterations' states too, named as in the history), with its transitions. */
function aslGraph(definition) {
  const nodes = [];
  const edges = [];
  const walk = (machine, parent) => {
    for (const [name, state] of Object.entries(machine.States)) {
      nodes.push({ name, type: state.Type, retry: Array.isArray(state.Retry) && state.Retry.length > 0, parent });
      const to = (next, kind) => next && edges.push({ from: name, to: next, kind });
      to(state.Next, "next");
      to(state.Default, "next");
      for (const c of state.Choices ?? []) to(c.Next, "next");
      for (const c of state.Catch ?? []) to(c.Next, "catch");
      const inner = state.ItemProcessor ?? state.Iterator;
      if (inner) {
        walk(inner, name);
        to(inner.StartAt, "iteration");
      }
      for (const branch of state.Branches ?? []) {
        walk(branch, name);
        to(branch.StartAt, "iteration");
      }
    }
  };
  walk(definition, null);
  return { nodes, edges };
}

/** Status of a state over its visits: running if any visit runs, else the last visit's. */
function stateStatuses(record) {
  const byName = new Map();
  for (const v of record.states) {
    const s = byName.get(v.name) ?? { visits: 0, attempts: 0, status: "NOT_RUN", running: false, tier: null, peak: 0 };
    s.visits += 1;
    s.attempts += v.attempts.length;
    s.status = v.status;
    s.running ||= v.status === "RUNNING";
    for (const a of v.attempts) s.peak = Math.max(s.peak, a.peak_rss_bytes ?? 0);
    byName.set(v.name, s);
  }
  for (const s of byName.values()) if (s.running) s.status = "RUNNING";
  return byName;
}

/** The transitions the run took: consecutive visits in the same thread. */
function takenEdges(record) {
  const taken = new Set();
  const last = new Map();
  for (const v of record.states) {
    const thread = v.iteration ?? "";
    const prev = last.get(thread);
    if (prev) taken.add(`${prev}→${v.name}`);
    last.set(thread, v.name);
  }
  return taken;
}

function renderGraph(record, params) {
  const section = document.getElementById("graph-section");
  const all = params.get("all") === "1";
  const selected = params.get("state");
  if (!record.definition) {
    section.replaceChildren(h("h2", { text: "State machine" }), h("p", { class: "muted", text: "this record has no definition" }));
    return;
  }
  const statuses = stateStatuses(record);
  const taken = takenEdges(record);
  const { nodes, edges } = aslGraph(record.definition);
  const shown = nodes.filter((n) => all || statuses.has(n.name));

  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 24, ranksep: 34, edgesep: 12, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of shown) g.setNode(n.name, { width: Math.max(110, n.name.length * 7 + 28), height: 38, node: n });
  edges.forEach((e, i) => {
    if (g.hasNode(e.from) && g.hasNode(e.to) && e.from !== e.to) g.setEdge(e.from, e.to, { kind: e.kind }, `e${i}`);
  });
  dagre.layout(g);

  const { width, height } = g.graph();
  const svg = h("svg:svg", { width: Math.ceil(width), height: Math.ceil(height), viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`, id: "graph-svg" });
  svg.append(h("svg:defs", {}, h("svg:marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, h("svg:path", { d: "M0,0 L10,5 L0,10 z", fill: "#57606a" }))));
  for (const e of g.edges()) {
    const edge = g.edge(e);
    const d = edge.points.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
    const isTaken = taken.has(`${e.v}→${e.w}`);
    svg.append(h("svg:g", { class: `edge ${edge.kind}${isTaken ? " taken" : ""}` }, h("svg:path", { d, "marker-end": "url(#arrow)" })));
  }
  for (const name of g.nodes()) {
    const { x, y, width: w, height: hh, node } = g.node(name);
    const s = statuses.get(name) ?? { status: "NOT_RUN", attempts: 0, visits: 0 };
    const color = STATUS_COLORS[s.status];
    const badges = [];
    if (s.attempts > 1) badges.push(`×${s.attempts}`);
    if (s.visits > 1 && node.type !== "Task") badges.push(`${s.visits} visits`);
    if (node.retry) badges.push("↻");
    const group = h(
      "svg:g",
      {
        class: `node${selected === name ? " selected" : ""}`,
        "data-state": name,
        "data-status": s.status,
        "data-type": node.type,
        "data-attempts": s.attempts,
        transform: `translate(${(x - w / 2).toFixed(1)},${(y - hh / 2).toFixed(1)})`,
        onclick: () => setParams({ state: name }),
      },
      h("svg:title", { text: `${name} (${node.type}): ${s.status}${s.attempts ? `, ${s.attempts} attempt(s)` : ""}` }),
      h("svg:rect", { width: w, height: hh, fill: color, "fill-opacity": s.status === "NOT_RUN" ? 1 : 0.85, rx: 6 }),
      h("svg:text", { x: 8, y: 16, fill: s.status === "NOT_RUN" ? "#57606a" : "#fff", "font-weight": node.type === "Task" ? 600 : 400, text: name }),
      h("svg:text", { x: 8, y: 31, fill: s.status === "NOT_RUN" ? "#8c959f" : "#ffffffcc", "font-size": 10, text: `${node.type}${badges.length ? ` · ${badges.join(" · ")}` : ""}` }),
    );
    svg.append(group);
  }

  const legend = h("div", { class: "legend" }, Object.keys(STATUS_COLORS).map((st) => statusBadge(st)), h("span", { class: "muted", text: "↻ has Retry · ×N attempts · dashed: Catch" }));
  const toggle = h("label", {}, h("input", { type: "checkbox", id: "show-all", checked: all, onchange: (e) => setParams({ all: e.target.checked ? "1" : null }) }), " show every state of the machine (not only those this run entered)");
  const graphBox = h("div", { id: "graph" }, svg);
  const detail = h("aside", { id: "state-detail" }, stateDetail(record, selected));
  // Keep the graph's scroll position across live redraws.
  const old = document.getElementById("graph");
  const scroll = old ? [old.scrollLeft, old.scrollTop] : null;
  section.replaceChildren(h("h2", { text: "State machine" }), legend, toggle, h("div", { class: "graph-wrap" }, graphBox, detail));
  if (scroll) [graphBox.scrollLeft, graphBox.scrollTop] = scroll;
}

function stateDetail(record, name) {
  if (!name) return h("p", { class: "muted", text: "Click a state to see its input, output, error and log." });
  const visits = record.states.map((v, i) => ({ v, i })).filter(({ v }) => v.name === name);
  if (!visits.length) return h("div", {}, h("h3", { text: name }), h("p", { class: "muted", text: "not entered in this run" }));
  return h(
    "div",
    {},
    h("h3", { text: name }),
    visits.map(({ v, i }) =>
      h(
        "div",
        { class: "visit", "data-visit": i },
        h("div", {}, statusBadge(v.status), ` ${v.type}${v.iteration ? ` · ${v.iteration}` : ""} · entered ${when(v.entered_at)}`),
        v.error ? h("div", { class: "state-error" }, h("strong", { text: `Error: ${v.error}` }), h("pre", { class: "cause", text: prettyText(v.cause ?? "") })) : null,
        v.attempts.length
          ? h(
              "table",
              { class: "attempts" },
              h("thead", {}, h("tr", {}, ["#", "status", "duration", "tier", "peak memory", "log"].map((t) => h("th", { text: t })))),
              h(
                "tbody",
                {},
                v.attempts.map((a) =>
                  h(
                    "tr",
                    {},
                    h("td", { text: a.number }),
                    h("td", {}, statusBadge(a.status)),
                    h("td", { class: "num", text: seconds(a.duration_ms) }),
                    h("td", { text: a.tier ?? "" }),
                    h("td", { class: "num", text: bytes(a.peak_rss_bytes) }),
                    h("td", {}, a.tier ? h("button", { class: "link", onclick: (e) => showLog(e.target, record.id, i, a.number), text: "show log" }) : ""),
                  ),
                ),
              ),
            )
          : null,
        h("details", {}, h("summary", { text: "input" }), h("pre", { class: "input", text: pretty(v.input) })),
        h("details", {}, h("summary", { text: "output" }), h("pre", { class: "output", text: pretty(v.output) })),
      ),
    ),
  );
}

async function showLog(button, runId, visit, attempt) {
  const res = await fetch(`/api/runs/${encodeURIComponent(runId)}/log?visit=${visit}&attempt=${attempt}`, { cache: "no-store" });
  const pre = h("pre", { class: "log", text: await res.text() });
  button.closest(".visit").append(pre);
}

// ------------------------------------------------------------------------------------------------- timeline

function renderTimeline(record) {
  const section = document.getElementById("timeline-section");
  const rows = record.states.filter((v) => v.type === "Task" || v.type === "Map" || v.type === "Wait" || v.type === "Parallel");
  const t0 = Date.parse(record.started_at);
  const t1 = record.stopped_at ? Date.parse(record.stopped_at) : Math.max(Date.parse(record.updated_at), ...rows.map((v) => Date.parse(v.entered_at)));
  const span = Math.max(1, t1 - t0);
  const labelW = 260;
  const chartW = 860;
  const rowH = 24;
  const x = (iso) => labelW + ((Date.parse(iso) - t0) / span) * chartW;
  const svg = h("svg:svg", { width: labelW + chartW + 190, height: rows.length * rowH + 30, id: "timeline-svg" });
  // Time axis: five ticks.
  for (let i = 0; i <= 4; i++) {
    const tx = labelW + (chartW * i) / 4;
    svg.append(h("svg:line", { x1: tx, x2: tx, y1: 0, y2: rows.length * rowH + 8, stroke: "#eaeef2" }));
    svg.append(h("svg:text", { x: tx + 2, y: rows.length * rowH + 22, fill: "#656d76", text: seconds((span * i) / 4) }));
  }
  rows.forEach((v, row) => {
    const y = row * rowH + 4;
    svg.append(h("svg:text", { x: 0, y: y + 13, fill: "#1f2328", text: `${v.iteration ? `${v.iteration} ` : ""}${v.name}`.slice(0, 42) }));
    const pieces = v.attempts.length
      ? v.attempts.map((a) => ({ start: a.started_at, stop: a.stopped_at, status: a.status, label: [a.tier, a.peak_rss_bytes ? bytes(a.peak_rss_bytes) : null, seconds(a.duration_ms)].filter(Boolean).join(" · "), attempt: a.number, tier: a.tier, peak: a.peak_rss_bytes }))
      : [{ start: v.entered_at, stop: v.exited_at, status: v.status, label: seconds(v.exited_at ? Date.parse(v.exited_at) - Date.parse(v.entered_at) : null), attempt: 1 }];
    for (const p of pieces) {
      const x1 = x(p.start);
      const x2 = p.stop ? x(p.stop) : labelW + chartW;
      svg.append(
        h(
          "svg:g",
          { class: "bar", "data-state": v.name, "data-status": p.status, "data-attempt": p.attempt, "data-tier": p.tier ?? "", "data-peak": p.peak ?? "" },
          h("svg:title", { text: `${v.name} attempt ${p.attempt}: ${p.status} ${p.label}` }),
          h("svg:rect", { x: x1, y, width: Math.max(2, x2 - x1), height: rowH - 8, fill: STATUS_COLORS[p.status] ?? "#999", rx: 3 }),
          h("svg:text", { x: Math.max(x1, x2) + 4, y: y + 12, fill: "#57606a", text: p.label }),
        ),
      );
    }
  });
  section.replaceChildren(h("h2", { text: "Timeline" }), h("p", { class: "muted", text: "one bar per attempt of each task (tier · peak memory · duration); retries and escalations show as further bars" }), svg);
}

// -------------------------------------------------------------------------------------------------- fan-out

function renderChildren(record) {
  const section = document.getElementById("children-section");
  section.hidden = record.children.length === 0;
  if (!record.children.length) return;
  section.replaceChildren(
    h("h2", { text: `Items (${record.children.length} child runs)` }),
    h(
      "table",
      { id: "children" },
      h("thead", {}, h("tr", {}, ["status", "item", "execution", "duration"].map((t) => h("th", { text: t })))),
      h(
        "tbody",
        {},
        record.children.map((c) =>
          h(
            "tr",
            { "data-child": c.id, "data-status": c.status },
            h("td", {}, statusBadge(c.status)),
            h("td", { text: Object.entries(c.key_input).map(([k, v]) => `${k}=${v}`).join(" ") }),
            h("td", {}, h("a", { href: `#/run/${encodeURIComponent(c.id)}`, text: c.name })),
            h("td", { class: "num", text: seconds(c.duration_ms) }),
          ),
        ),
      ),
    ),
  );
}

// -------------------------------------------------------------------------------------------------- outputs

async function renderOutputs(record) {
  const section = document.getElementById("outputs-section");
  const files = record.outputs.files;
  if (!files.length) {
    section.replaceChildren(h("h2", { text: "Outputs" }), h("p", { class: "muted", text: record.children.length ? "each item published its own files: see its run" : "nothing published" }));
    return;
  }
  const preview = h("div", { id: "preview" });
  const table = h(
    "table",
    { id: "files" },
    h("thead", {}, h("tr", {}, ["file", "size", ""].map((t) => h("th", { text: t })))),
    h(
      "tbody",
      {},
      files.map((f) =>
        h(
          "tr",
          { "data-file": f.name },
          h("td", { text: f.name }),
          h("td", { class: "num", text: bytes(f.bytes) }),
          h("td", {}, /\.(parquet|csv)$/.test(f.name) ? h("button", { class: "link", onclick: () => showPreview(preview, record.id, f.name), text: "preview" }) : ""),
        ),
      ),
    ),
  );
  const hasMap = files.some((f) => ["ski_areas.parquet", "lifts.parquet", "pistes.parquet"].includes(f.name));
  section.replaceChildren(
    h("h2", { text: "Outputs" }),
    h("p", { class: "muted" }, `published to ${record.outputs.location}`),
    table,
    preview,
    hasMap ? h("h2", { text: "Map", style: "margin-top:14px" }) : null,
    hasMap ? h("p", { id: "map-counts", class: "muted", text: "loading…" }) : null,
    hasMap ? h("div", { id: "map" }) : null,
  );
  const first = files.find((f) => f.name === "ski_areas_analyzed.parquet") ?? files.find((f) => /\.(parquet|csv)$/.test(f.name));
  if (first) await showPreview(preview, record.id, first.name);
  if (hasMap) await drawMap(record);
}

async function showPreview(box, runId, name) {
  const t = await getJson(`/api/runs/${encodeURIComponent(runId)}/files/${encodeURIComponent(name)}`);
  box.replaceChildren(
    h("h3", { text: `${name}: ${t.row_count} rows${t.rows.length < t.row_count ? ` (first ${t.rows.length})` : ""}` }),
    h(
      "div",
      { style: "overflow:auto; max-height:320px" },
      h(
        "table",
        { class: "preview", "data-file": name, "data-rows": t.row_count },
        h("thead", {}, h("tr", {}, t.columns.map((c) => h("th", { title: c.type, text: c.name })))),
        h("tbody", {}, t.rows.map((r) => h("tr", {}, r.map((v) => h("td", { text: v === null ? "" : typeof v === "number" ? String(Math.round(v * 1e6) / 1e6) : String(v) }))))),
      ),
    ),
  );
}

async function drawMap(record) {
  const [config, data] = await Promise.all([getJson("/api/config"), getJson(`/api/runs/${encodeURIComponent(record.id)}/map`)]);
  if (current.map) current.map.remove();
  const map = L.map("map", { preferCanvas: false, attributionControl: true });
  current.map = map;
  map.attributionControl.addAttribution("Map data © OpenStreetMap contributors, ODbL");
  if (config.tileUrl) L.tileLayer(config.tileUrl, { maxZoom: 19 }).addTo(map);
  const layers = {};
  const popup = (f) => Object.entries(f.properties).filter(([, v]) => v !== null && v !== "").map(([k, v]) => `${k}: ${v}`).join("<br>");
  const escapeHtml = (s) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  const bind = (f, layer) => layer.bindPopup(escapeHtml(popup(f)).replaceAll("&lt;br&gt;", "<br>"));
  if (data.layers.ski_areas)
    layers["ski areas"] = L.geoJSON(data.layers.ski_areas, {
      style: { color: "#6a1b9a", weight: 2, fillOpacity: 0.12 },
      pointToLayer: (_f, ll) => L.circleMarker(ll, { radius: 7, color: "#6a1b9a" }),
      onEachFeature: bind,
    }).addTo(map);
  if (data.layers.pistes)
    layers.pistes = L.geoJSON(data.layers.pistes, {
      style: (f) => ({ color: PISTE_COLORS[f.properties.difficulty] ?? "#607d8b", weight: 3, fillOpacity: 0.2 }),
      onEachFeature: bind,
    }).addTo(map);
  if (data.layers.lifts) layers.lifts = L.geoJSON(data.layers.lifts, { style: { color: "#111", weight: 2, dashArray: "6 4" }, onEachFeature: bind }).addTo(map);
  L.control.layers(null, layers, { collapsed: false }).addTo(map);
  const bounds = L.featureGroup(Object.values(layers)).getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20] });
  else map.setView([0, 0], 2);
  const labels = { ski_areas: "ski areas", lifts: "lifts", pistes: "pistes" };
  document.getElementById("map-counts").replaceChildren(
    ...Object.entries(data.counts).map(([k, n]) => h("span", { "data-layer": k, "data-count": n }, h("strong", { text: String(n) }), ` ${labels[k] ?? k}`)),
    h("span", { class: "muted", text: config.tileUrl ? "" : `no basemap (set ATLAS_CONSOLE_TILE_URL to add one)` }),
  );
}

// -------------------------------------------------------------------------------------------------- history

function renderHistory(record) {
  const section = document.getElementById("history-section");
  const wasOpen = section.querySelector("details")?.open ?? false;
  section.replaceChildren(
    h(
      "details",
      { open: wasOpen },
      h("summary", { text: `Event history (${record.history.length} events, as GetExecutionHistory shows them)` }),
      h(
        "table",
        { id: "history" },
        h("thead", {}, h("tr", {}, ["id", "prev", "time", "type", "details"].map((t) => h("th", { text: t })))),
        h(
          "tbody",
          {},
          record.history.map((e) => {
            const detailsKey = Object.keys(e).find((k) => k.endsWith("EventDetails"));
            return h(
              "tr",
              {},
              h("td", { text: e.id }),
              h("td", { text: e.previousEventId ?? "" }),
              h("td", { text: new Date(e.timestamp).toLocaleTimeString() }),
              h("td", { text: e.type }),
              h("td", {}, detailsKey ? h("code", { text: JSON.stringify(e[detailsKey]).slice(0, 300) }) : ""),
            );
          }),
        ),
      ),
    ),
  );
}

// --------------------------------------------------------------------------------------------------- router

function showError(err) {
  document.getElementById("view").replaceChildren(h("section", {}, h("h1", { text: "error" }), h("pre", { text: String(err.message ?? err) })));
}

function render() {
  clearTimeout(current.timer);
  const { path, params } = route();
  const match = /^\/run\/(.+)$/.exec(path);
  if (match) {
    const id = decodeURIComponent(match[1]);
    if (current.runId !== id) {
      current.outputsFor = null;
      if (current.map) current.map.remove();
      current.map = null;
    }
    current.runId = id;
    showRun(id, params).catch(showError);
  } else {
    current.runId = null;
    current.outputsFor = null;
    current.map = null;
    showRuns(params).catch(showError);
  }
}

window.addEventListener("hashchange", render);
render();
