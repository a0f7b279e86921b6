/* One run (`#/run/<id>?state=<name>&all=1`), failure first: a run that did not succeed opens on the state that
 * failed it, selected in the graph and in view, with the reason in one sentence and the raw detail folded below.
 * The sentences, the failed state and the fan-out's items come with the record from the server, in the run model's
 * own words (cli/console-view.ts); this page only lays them out. A live run is fetched again every POLL_MS. */
"use strict";

(() => {
  const { h, statusBadge, seconds, bytes, when, pretty, prettyText, keyInput, getJson, route, setParams, showError, STATUS_COLORS } = atlasConsole;
  const POLL_MS = 1000;
  const PISTE_COLORS = { novice: "#2e7d32", easy: "#2e7d32", intermediate: "#1565c0", advanced: "#c62828", expert: "#212121", freeride: "#ef6c00" };
  /** States that take time of their own: a row each on the timeline. */
  const TIMED_TYPES = new Set(["Task", "Map", "Wait", "Parallel"]);
  /** Below this width the timeline's label columns shrink. */
  const NARROW_PX = 900;
  /** About how wide a character of the timeline's 11 px labels is. */
  const LABEL_CHAR_PX = 6;
  const MAP_FILES = ["ski_areas.parquet", "lifts.parquet", "pistes.parquet"];

  let current = fresh(null);
  function fresh(runId) {
    return { runId, timer: null, map: null, outputsFor: null, opened: false, detailKey: null, record: null };
  }

  async function showRun(match, params, container) {
    const id = decodeURIComponent(match[1]);
    if (current.runId !== id) {
      leave();
      current = fresh(id);
    }
    clearTimeout(current.timer);
    const record = await getJson(`/api/runs/${encodeURIComponent(id)}`);
    if (current.runId !== id) return; // the address changed meanwhile
    current.record = record;
    const { view } = record;
    let sections = container.querySelector("#run-sections");
    if (!sections || sections.dataset.run !== id) {
      sections = h(
        "div",
        { id: "run-sections", "data-run": id },
        ["run-header", "graph-section", "fanout-section", "timeline-section", "outputs-section", "history-section"].map((s) => h("section", { id: s })),
      );
      container.replaceChildren(sections);
    }
    // Failure first: opened without a state, a failed run selects the state that failed it.
    let selected = params.get("state");
    const opening = !current.opened;
    if (!selected && opening && view.failure?.state) {
      selected = view.failure.state;
      setParams({ state: selected }, { replace: true });
    }
    renderHeader(record, view);
    renderGraph(record, view, params, selected);
    renderFanOuts(record, view);
    renderTimeline(record);
    renderHistory(record);
    const live = record.status === "RUNNING";
    if (!live && current.outputsFor !== id) {
      current.outputsFor = id;
      renderOutputs(record).catch(showError);
    } else if (live) {
      document.getElementById("outputs-section").replaceChildren(h("h2", { text: "Outputs" }), h("p", { class: "muted", text: "published when the run ends" }));
    }
    if (opening) {
      current.opened = true;
      if (selected) reveal(selected);
    }
    document.getElementById("live").hidden = !live;
    document.body.dataset.runStatus = record.status;
    if (live) current.timer = setTimeout(() => showRun(match, route().params, container).catch(showError), POLL_MS);
  }

  function leave() {
    clearTimeout(current.timer);
    current.map?.remove();
    document.getElementById("live").hidden = true;
    delete document.body.dataset.runStatus;
  }

  /** The state's node zoomed to a readable size inside the graph's box, and the page scrolled to it if it is not on screen. */
  function reveal(name) {
    atlasGraph.focus(name);
    const node = atlasGraph.nodeElement(name);
    if (!node) return;
    const r = node.getBoundingClientRect();
    if (r.top < 0 || r.bottom > window.innerHeight) window.scrollBy({ top: r.top + r.height / 2 - window.innerHeight / 2 });
  }

  // ------------------------------------------------------------------------------------------ header, failure

  function renderHeader(r, view) {
    const ended = r.stopped_at ? ` · ended ${when(r.stopped_at)} · ${seconds(r.duration_ms)}` : " · running";
    const header = document.getElementById("run-header");
    header.replaceChildren(
      h("h1", {}, `${r.workflow} `, h("span", { class: "execution", text: r.execution.name }), " ", h("span", { id: "run-status" }, statusBadge(r.status))),
      h(
        "div",
        { class: "muted meta" },
        `${r.source} · run ${r.id} · started ${when(r.started_at)}${ended}`,
        r.estimated_fargate_cost_usd !== null ? ` · est. Fargate $${r.estimated_fargate_cost_usd.toFixed(5)}` : "",
        r.parent ? h("span", {}, " · part of ", h("a", { href: `#/run/${encodeURIComponent(r.parent.id)}`, text: r.parent.id })) : null,
      ),
      h("div", { class: "input-line" }, h("span", { class: "muted", text: "input " }), h("code", { text: JSON.stringify(r.input) })),
    );
    if (view.failure) header.append(failureBlock(view.failure));
  }

  /** The reason in one sentence, the step's own last line, and the raw detail folded below. */
  function failureBlock(f) {
    const stateLink = f.state ? h("a", { class: "failed-state", href: "#", onclick: (e) => (e.preventDefault(), setParams({ state: f.state }), reveal(f.state)), text: f.state }) : null;
    const where = f.attempt ? ` on attempt ${f.attempt} of ${f.attempts}${f.tier ? ` (${f.tier})` : ""}` : "";
    const lead = !f.state ? [] : f.kind === "step" ? [stateLink, ` failed${where}: `] : f.kind === "fan-out" ? [stateLink, ": "] : ["stopped at ", stateLink, ": "];
    return h(
      "div",
      { id: "failure", "data-state": f.state ?? "", "data-attempt": f.attempt ?? "" },
      h("p", { class: "reason" }, ...lead, h("span", { class: "sentence", text: f.sentence })),
      f.message ? h("p", { class: "said" }, h("span", { class: "muted", text: "the step's last line: " }), h("code", { text: `error: ${f.message}` })) : null,
      h(
        "details",
        { class: "raw" },
        h("summary", { text: `raw detail (${f.error}${f.cause ? ", the Cause as recorded" : ""})` }),
        h("ul", { class: "details" }, f.details.map((d) => h("li", { text: d }))),
        f.cause ? h("pre", { class: "cause", text: prettyText(f.cause) }) : null,
      ),
    );
  }

  // ------------------------------------------------------------------------------------------------- graph

  function renderGraph(record, view, params, selected) {
    const section = document.getElementById("graph-section");
    if (!record.definition) {
      section.replaceChildren(h("h2", { text: "State machine" }), h("p", { class: "muted", text: "this record has no definition" }));
      return;
    }
    // A live run shows the whole machine, the states it has not reached yet grey.
    const live = record.status === "RUNNING";
    const all = live || params.get("all") === "1";
    if (!section.querySelector("#graph")) {
      section.replaceChildren(
        h(
          "div",
          { class: "section-head" },
          h("h2", { text: "State machine" }),
          h(
            "div",
            { class: "graph-tools" },
            h("button", { type: "button", id: "graph-fit", title: "the whole graph in the box", onclick: () => atlasGraph.fit(), text: "Fit" }),
            h("button", { type: "button", id: "graph-zoom-in", title: "zoom in", onclick: () => atlasGraph.zoomBy(1.25), text: "+" }),
            h("button", { type: "button", id: "graph-zoom-out", title: "zoom out", onclick: () => atlasGraph.zoomBy(0.8), text: "−" }),
            h("label", {}, h("input", { type: "checkbox", id: "show-all", onchange: (e) => setParams({ all: e.target.checked ? "1" : null }) }), " show every state"),
          ),
        ),
        h(
          "div",
          { class: "legend" },
          atlasGraph.legend.map((st) => statusBadge(st, st === "NOT_RUN" ? "not run" : st)),
          h("span", { class: "muted", text: "↻ has Retry · dashed: Catch · drag to pan, click then scroll to zoom" }),
        ),
        h("div", { class: "graph-wrap" }, h("div", { id: "graph" }), h("aside", { id: "state-detail" })),
      );
    }
    const toggle = section.querySelector("#show-all");
    toggle.checked = all;
    toggle.disabled = live;
    toggle.parentElement.title = live ? "a live run shows every state, those not run yet grey" : "";
    atlasGraph.render(section.querySelector("#graph"), record, view, { selected, all, onSelect: (name) => setParams({ state: name }) });
    renderDetail(record, view, selected);
  }

  // ------------------------------------------------------------------------------------------- state detail

  function renderDetail(record, view, name) {
    const box = document.getElementById("state-detail");
    const visits = record.states.map((v, i) => ({ v, i })).filter(({ v }) => v.name === name);
    // Drawn again only when what it shows changed: an open log or input stays open while a live run goes on.
    const key = JSON.stringify([record.id, name, visits.map(({ v }) => [v.status, v.exited_at, v.attempts.map((a) => a.status)])]);
    if (key === current.detailKey) return;
    current.detailKey = key;
    if (!name) return box.replaceChildren(h("p", { class: "muted", text: "Click a state to see its attempts, input, output and log." }));
    if (!visits.length) return box.replaceChildren(h("h3", { text: name }), h("p", { class: "muted", text: "not run" }));
    const type = visits[0].v.type;
    const fan = view.fanOuts.find((f) => f.state === name);
    // h() leaves out the parts that are null (a fan-out table only for a Map).
    box.replaceChildren(
      h(
        "div",
        {},
        h("h3", {}, `${name} `, h("span", { class: "muted", text: type })),
        fan ? fanOutTable(fan, "detail-fan-out", { compact: true }) : null,
        type === "Task" ? attemptsTable(record, view, visits) : visitsList(view, visits),
        h(
          "details",
          { class: "io" },
          h("summary", { text: visits.length > 1 ? `input and output of each of its ${visits.length} visits` : "input and output" }),
          visits.map(({ v }, k) =>
            h(
              "div",
              { class: "visit-io" },
              visits.length > 1 ? h("h4", { text: `visit ${k + 1}${v.iteration ? ` · ${v.iteration}` : ""} · ${when(v.entered_at)}` }) : null,
              h("div", { class: "muted", text: "input" }),
              h("pre", { class: "input", text: pretty(v.input) }),
              h("div", { class: "muted", text: "output" }),
              h("pre", { class: "output", text: pretty(v.output) }),
            ),
          ),
        ),
      ),
    );
  }

  /** One row per attempt, numbered 1..N across the step's retries and escalations (per fan-out item). */
  function attemptsTable(record, view, visits) {
    const items = visits.some(({ v }) => v.iteration);
    const rows = visits.flatMap(({ v, i }) => v.attempts.map((a) => ({ v, i, a })));
    const failedRun = view.failure;
    return h(
      "table",
      { class: "attempts" },
      h("thead", {}, h("tr", {}, [items ? "item" : null, "attempt", "status", "tier", "time", "peak", ""].filter((t) => t !== null).map((t) => h("th", { text: t })))),
      h(
        "tbody",
        {},
        rows.flatMap(({ v, i, a }) => {
          const sentence = view.sentences[`${i}/${a.number}`];
          const failedIt = failedRun && failedRun.visit === i && failedRun.attempt === a.number;
          const row = h(
            "tr",
            { class: failedIt ? "failed-run" : null, "data-attempt": a.number, "data-visit": i, "data-status": a.status },
            items ? h("td", { text: v.iteration ?? "" }) : null,
            h("td", { class: "num", text: `#${a.number}` }),
            h("td", {}, statusBadge(a.status)),
            h("td", { text: a.tier ?? "" }),
            h("td", { class: "num", text: seconds(a.duration_ms) }),
            h("td", { class: "num", text: bytes(a.peak_rss_bytes) }),
            h("td", {}, a.tier ? h("button", { class: "link", type: "button", onclick: (e) => showLog(e.target, record.id, i, a.number), text: "log" }) : ""),
          );
          if (!a.error) return [row];
          const why = h(
            "tr",
            { class: `why${failedIt ? " failed-run" : ""}`, "data-attempt": a.number },
            h(
              "td",
              { colspan: items ? 7 : 6 },
              h("div", { class: "sentence", text: sentence ?? a.error }),
              a.message ? h("div", { class: "muted", text: `the step's last line: error: ${a.message}` }) : null,
              h("details", { class: "raw" }, h("summary", { text: `raw (${a.error})` }), h("pre", { class: "cause", text: prettyText(a.cause ?? "") })),
            ),
          );
          return [row, why];
        }),
      ),
    );
  }

  /** A state that is not a task: its visits, numbered, with the error of any that failed. */
  function visitsList(view, visits) {
    return h(
      "ol",
      { class: "visits" },
      visits.map(({ v, i }) =>
        h(
          "li",
          { "data-visit": i, "data-status": v.status },
          statusBadge(v.status),
          ` ${v.iteration ? `${v.iteration} · ` : ""}${when(v.entered_at)}${v.exited_at ? ` · ${seconds(Date.parse(v.exited_at) - Date.parse(v.entered_at))}` : ""}`,
          view.sentences[String(i)] ? h("div", { class: "sentence", text: view.sentences[String(i)] }) : null,
        ),
      ),
    );
  }

  async function showLog(button, runId, visit, attempt) {
    const res = await fetch(`/api/runs/${encodeURIComponent(runId)}/log?visit=${visit}&attempt=${attempt}`, { cache: "no-store" });
    const pre = h("pre", { class: "log", "data-attempt": attempt, text: await res.text() });
    button.closest("table").after(pre);
  }

  // ---------------------------------------------------------------------------------------------- fan-outs

  const ITEM_LABELS = { SUCCEEDED: "succeeded", FAILED: "failed", TIMED_OUT: "timed out", ABORTED: "stopped", RUNNING: "running", NOT_STARTED: "not started" };
  const countsLine = (counts) => Object.entries(counts).filter(([, n]) => n > 0).map(([st, n]) => `${n} ${ITEM_LABELS[st]}`).join(", ");

  /** A fan-out's items, each named, with its status, its run and why it failed; `compact` puts the why on a line of its own. */
  function fanOutTable(fan, id, { compact = false } = {}) {
    const columns = compact ? ["item", "status", "execution"] : ["item", "status", "execution", "time", "why"];
    return h(
      "table",
      { class: `fan-out${compact ? " compact" : ""}`, id, "data-map": fan.state },
      h("thead", {}, h("tr", {}, columns.map((t) => h("th", { text: t })))),
      h(
        "tbody",
        {},
        fan.items.flatMap((item) => {
          const row = h(
            "tr",
            { "data-item": item.name, "data-status": item.status },
            h("td", {}, h("strong", { text: item.name })),
            h("td", {}, statusBadge(item.status, ITEM_LABELS[item.status])),
            h("td", {}, item.child ? h("a", { href: `#/run/${encodeURIComponent(item.child)}`, text: item.execution }) : item.execution),
            compact ? null : h("td", { class: "num", text: seconds(item.duration_ms) }),
            compact ? null : h("td", { class: "why", text: item.sentence ?? "" }),
          );
          return compact && item.sentence ? [row, h("tr", { class: "why", "data-item": item.name, "data-status": item.status }, h("td", { colspan: 3, class: "why", text: item.sentence }))] : [row];
        }),
      ),
    );
  }

  function renderFanOuts(record, view) {
    const section = document.getElementById("fanout-section");
    if (view.fanOuts.length) {
      section.hidden = false;
      section.replaceChildren(
        ...view.fanOuts.flatMap((fan) => [
          h("h2", { "data-map": fan.state }, `${fan.state}: ${fan.items.length} items, `, h("span", { class: "counts", text: countsLine(fan.counts) })),
          fanOutTable(fan, `fan-out-${fan.state}`),
        ]),
      );
    } else if (record.children.length) {
      // Child runs the record names without their Map's iterations: listed as they are.
      section.hidden = false;
      section.replaceChildren(
        h("h2", { text: `Items (${record.children.length} child runs)` }),
        h(
          "table",
          { id: "children" },
          h("thead", {}, h("tr", {}, ["status", "item", "execution", "time"].map((t) => h("th", { text: t })))),
          h("tbody", {}, record.children.map((c) => h("tr", { "data-child": c.id, "data-status": c.status }, h("td", {}, statusBadge(c.status)), h("td", { text: keyInput(c.key_input) }), h("td", {}, h("a", { href: `#/run/${encodeURIComponent(c.id)}`, text: c.name })), h("td", { class: "num", text: seconds(c.duration_ms) })))),
        ),
      );
    } else {
      section.hidden = true;
    }
  }

  // ---------------------------------------------------------------------------------------------- timeline

  /** One row per state that takes time (per fan-out item), one bar per attempt (tasks) or visit (waits). */
  function renderTimeline(record) {
    const section = document.getElementById("timeline-section");
    const rows = new Map();
    for (const v of record.states) {
      if (!TIMED_TYPES.has(v.type)) continue;
      const key = `${v.iteration ?? ""}\u0000${v.name}`;
      if (!rows.has(key)) rows.set(key, { name: v.name, label: `${v.iteration ? `${v.iteration} ` : ""}${v.name}`, bars: [] });
      const row = rows.get(key);
      if (v.attempts.length) {
        for (const a of v.attempts) {
          const label = [`#${a.number}`, a.tier, a.peak_rss_bytes ? bytes(a.peak_rss_bytes) : null, seconds(a.duration_ms)].filter(Boolean).join(" · ");
          row.bars.push({ start: a.started_at, stop: a.stopped_at, status: a.status, label, attempt: a.number, tier: a.tier, peak: a.peak_rss_bytes });
        }
      } else {
        row.bars.push({ start: v.entered_at, stop: v.exited_at, status: v.status, label: seconds(v.exited_at ? Date.parse(v.exited_at) - Date.parse(v.entered_at) : null), attempt: row.bars.length + 1 });
      }
    }
    const list = [...rows.values()];
    const t0 = Date.parse(record.started_at);
    const t1 = record.stopped_at ? Date.parse(record.stopped_at) : Math.max(Date.parse(record.updated_at), ...record.states.map((v) => Date.parse(v.entered_at)));
    const span = Math.max(1, t1 - t0);
    const width = Math.max(320, section.clientWidth - 34);
    const narrow = width < NARROW_PX;
    const labelW = narrow ? 150 : 240;
    const tailW = narrow ? 120 : 200;
    const chartW = Math.max(120, width - labelW - tailW);
    const rowH = 24;
    const x = (iso) => labelW + ((Date.parse(iso) - t0) / span) * chartW;
    const svg = h("svg:svg", { width, height: list.length * rowH + 30, id: "timeline-svg" });
    for (let i = 0; i <= 4; i++) {
      const tx = labelW + (chartW * i) / 4;
      svg.append(h("svg:line", { x1: tx, x2: tx, y1: 0, y2: list.length * rowH + 8, stroke: "#eaeef2" }));
      svg.append(h("svg:text", { x: tx + 2, y: list.length * rowH + 22, fill: "#656d76", text: seconds((span * i) / 4) }));
    }
    list.forEach((row, n) => {
      const y = n * rowH + 4;
      svg.append(h("svg:text", { x: 0, y: y + 13, fill: "#1f2328", text: row.label.slice(0, narrow ? 24 : 40) }, h("svg:title", { text: row.label })));
      row.bars.forEach((p, k) => {
        const x1 = x(p.start);
        const x2 = p.stop ? x(p.stop) : labelW + chartW;
        const last = k === row.bars.length - 1;
        svg.append(
          h(
            "svg:g",
            { class: "bar", "data-state": row.name, "data-status": p.status, "data-attempt": p.attempt, "data-tier": p.tier ?? "", "data-peak": p.peak ?? "" },
            h("svg:title", { text: `${row.label} ${p.tier !== undefined ? "attempt" : "visit"} ${p.attempt}: ${p.status} ${p.label}` }),
            h("svg:rect", { x: x1, y, width: Math.max(2, x2 - x1), height: rowH - 8, fill: STATUS_COLORS[p.status] ?? "#999", rx: 3 }),
            last ? barLabel(row.bars.length > 1 ? `${row.bars.length} ${p.tier !== undefined ? "attempts" : "visits"}, last ${p.label}` : p.label, x1, x2, y, width) : null,
          ),
        );
      });
    });
    section.replaceChildren(
      h("h2", { text: "Timeline" }),
      h("p", { class: "muted", text: "one row per step, one bar per attempt (#n · tier · peak memory · time): retries and escalations are further bars on the step's row" }),
      svg,
    );
  }

  /** A row's label after its last bar, or before the bar when it would run past the chart's right edge. */
  function barLabel(text, x1, x2, y, width) {
    const after = Math.max(x1, x2) + 4;
    const fits = after + text.length * LABEL_CHAR_PX <= width;
    return h("svg:text", { x: fits ? after : x1 - 4, y: y + 12, fill: "#57606a", "text-anchor": fits ? "start" : "end", text });
  }

  window.addEventListener("resize", () => {
    if (current.record && document.getElementById("timeline-section")) renderTimeline(current.record);
  });

  // ----------------------------------------------------------------------------------------------- outputs

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
            h("td", {}, /\.(parquet|csv)$/.test(f.name) ? h("button", { class: "link", type: "button", onclick: () => showPreview(preview, record.id, f.name), text: "preview" }) : ""),
          ),
        ),
      ),
    );
    const hasMap = files.some((f) => MAP_FILES.includes(f.name));
    section.replaceChildren(
      h("h2", { text: "Outputs" }),
      h("p", { class: "muted" }, `published to ${record.outputs.location}`),
      table,
      preview,
      ...(hasMap ? [h("h2", { text: "Map", class: "map-title" }), h("p", { id: "map-counts", class: "muted", text: "loading…" }), h("div", { id: "map" })] : []),
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
        { class: "scroll-box" },
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
    if (current.runId !== record.id) return;
    current.map?.remove();
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
      h("span", { class: "muted", text: config.tileUrl ? "" : "no basemap (set ATLAS_CONSOLE_TILE_URL to add one)" }),
    );
  }

  // ----------------------------------------------------------------------------------------------- history

  function renderHistory(record) {
    const section = document.getElementById("history-section");
    const wasOpen = section.querySelector("details")?.open ?? false;
    section.replaceChildren(
      h(
        "details",
        { open: wasOpen },
        h("summary", { text: `Event history (${record.history.length} events, as GetExecutionHistory shows them)` }),
        h(
          "div",
          { class: "scroll-box" },
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
      ),
    );
  }

  atlasConsole.addView({ name: "run", nav: "runs", pattern: /^\/run\/(.+)$/, show: showRun, leave: () => (leave(), (current = fresh(null))) });
})();
