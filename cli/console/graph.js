/* A run's state machine: laid out from its ASL with dagre, fitted into its box with zoom and pan by svg-pan-zoom
 * (a library made for exactly this: fit, centre, zoom at a point, drag to pan), coloured by what the run did. The
 * drawing is kept while its set of states stays the same, so a live run is repainted in place (colours, attempt
 * counts) without losing the reader's zoom and pan; it is laid out again only when the set changes. */
"use strict";

const atlasGraph = (() => {
  const { h, STATUS_COLORS } = atlasConsole;
  const NODE_HEIGHT = 38;
  /** Room around the drawing inside its box, in layout units. */
  const MARGIN = 16;
  /** The box's height: at least this (a short run), at most this or 70% of the window (a tall machine is fitted, not scrolled). */
  const BOX_MIN_PX = 220;
  const BOX_MAX_PX = 680;
  const BOX_MAX_OF_WINDOW = 0.7;
  /** A small graph is drawn at its own size, not blown up to fill the box. */
  const MAX_FIT_ZOOM = 1;
  /** Below this scale a state's name is hard to read, so the state the page opens on is zoomed to FOCUS_ZOOM. */
  const MIN_READABLE_ZOOM = 0.6;
  const FOCUS_ZOOM = 0.8;
  /** A press that moves further than this is a pan, not a click on a state. */
  const CLICK_SLOP_PX = 4;

  let drawn = null;

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

  /**
   * What each state came to over the run: its attempts (numbered 1..N per Map iteration, so the count is the
   * highest number), its visits, the tier of its last attempt, and per iteration its last status. A state inside a
   * fan-out whose items ended differently is PARTIAL, with a count per status.
   */
  function stateStatuses(record) {
    const byName = new Map();
    for (const v of record.states) {
      const s = byName.get(v.name) ?? { visits: 0, attemptsBy: new Map(), lastBy: new Map(), tier: null, running: false };
      const it = v.iteration ?? "";
      s.visits += 1;
      for (const a of v.attempts) {
        s.attemptsBy.set(it, Math.max(s.attemptsBy.get(it) ?? 0, a.number));
        if (a.tier) s.tier = a.tier;
      }
      s.lastBy.set(it, v.status);
      s.running ||= v.status === "RUNNING";
      byName.set(v.name, s);
    }
    const out = new Map();
    for (const [name, s] of byName) {
      const statuses = [...s.lastBy.values()];
      const counts = {};
      for (const st of statuses) counts[st] = (counts[st] ?? 0) + 1;
      const status = s.running ? "RUNNING" : statuses.every((st) => st === statuses[0]) ? statuses[0] : "PARTIAL";
      const attempts = [...s.attemptsBy.values()].reduce((a, b) => a + b, 0);
      out.set(name, { status, attempts, visits: s.visits, tier: s.tier, items: s.lastBy.size > 1 || [...s.lastBy.keys()][0] !== "" ? counts : null });
    }
    return out;
  }

  const ITEM_WORDS = { SUCCEEDED: "ok", FAILED: "failed", TIMED_OUT: "timed out", ABORTED: "stopped", RUNNING: "running", NOT_STARTED: "not started", CAUGHT: "caught" };
  const countsText = (counts) => Object.entries(counts).filter(([, n]) => n > 0).map(([st, n]) => `${n} ${ITEM_WORDS[st] ?? st.toLowerCase()}`).join(" · ");

  /** A node's colour status and its second line. */
  function nodeLook(node, s, record, view) {
    let status = s?.status ?? "NOT_RUN";
    const parts = [node.type];
    if (node.type === "Map") {
      const fan = view.fanOuts.find((f) => f.state === node.name);
      if (fan) {
        const bad = fan.counts.FAILED + fan.counts.TIMED_OUT + fan.counts.ABORTED;
        if (bad && status !== "RUNNING") status = fan.counts.SUCCEEDED || fan.counts.NOT_STARTED ? "PARTIAL" : "FAILED";
        parts.push(countsText(fan.counts));
      }
    } else if (node.type === "Succeed" && status === "SUCCEEDED" && record.status !== "SUCCEEDED" && record.status !== "RUNNING") {
      // Step Functions ends a fan-out here whatever its items did; the run came to what its digest says.
      status = record.status;
      parts.push(`the run: ${record.status}`);
    } else if (s?.items) {
      parts.push(countsText(s.items));
    } else if (s) {
      if (s.attempts > 1) parts.push(`${s.attempts} attempts`);
      else if (s.visits > 1 && node.type !== "Task") parts.push(`${s.visits} visits`);
      if (s.tier) parts.push(s.tier);
    }
    if (node.retry) parts.push("↻");
    return { status, sub: parts.join(" · ") };
  }

  /** The transitions the run took: consecutive visits in the same thread. */
  function takenEdges(record) {
    const taken = new Set();
    const last = new Map();
    for (const v of record.states) {
      const thread = v.iteration ?? "";
      const prev = last.get(thread) ?? (v.iteration ? last.get("") : undefined);
      if (prev) taken.add(`${prev}→${v.name}`);
      last.set(thread, v.name);
    }
    return taken;
  }

  /**
   * Draws (or repaints) the graph into `box`. `all`: every state of the machine, else those the run entered.
   * `onSelect(name)` is called for a click on a state (not for a drag that pans).
   */
  function render(box, record, view, { selected, all, onSelect }) {
    const statuses = stateStatuses(record);
    const { nodes, edges } = aslGraph(record.definition);
    const shown = nodes.filter((n) => all || statuses.has(n.name));
    const key = `${record.id}\n${shown.map((n) => n.name).join("\n")}`;
    if (drawn?.key !== key || drawn.box !== box) build(box, key, shown, edges, onSelect);
    drawn.onSelect = onSelect;
    paint(record, view, statuses, selected);
  }

  function build(box, key, shown, edges, onSelect) {
    drawn?.pz.destroy();
    const g = new dagre.graphlib.Graph({ multigraph: true });
    g.setGraph({ rankdir: "TB", nodesep: 22, ranksep: 30, edgesep: 12, marginx: 0, marginy: 0 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of shown) g.setNode(n.name, { width: Math.max(150, n.name.length * 7.2 + 24), height: NODE_HEIGHT, node: n });
    edges.forEach((e, i) => {
      if (g.hasNode(e.from) && g.hasNode(e.to) && e.from !== e.to) g.setEdge(e.from, e.to, { kind: e.kind }, `e${i}`);
    });
    dagre.layout(g);

    // The drawing's bounds are its nodes and every point of every edge: dagre routes some edges (Catch edges round
    // the side of a column) outside the width it reports, which is how they used to leave the box.
    const bounds = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
    const grow = (x, y) => Object.assign(bounds, { x0: Math.min(bounds.x0, x), y0: Math.min(bounds.y0, y), x1: Math.max(bounds.x1, x), y1: Math.max(bounds.y1, y) });
    for (const name of g.nodes()) {
      const { x, y, width, height } = g.node(name);
      grow(x - width / 2, y - height / 2);
      grow(x + width / 2, y + height / 2);
    }
    for (const e of g.edges()) for (const p of g.edge(e).points) grow(p.x, p.y);
    const vb = { x: bounds.x0 - MARGIN, y: bounds.y0 - MARGIN, w: bounds.x1 - bounds.x0 + 2 * MARGIN, h: bounds.y1 - bounds.y0 + 2 * MARGIN };

    const viewport = h("svg:g", { class: "svg-pan-zoom_viewport" });
    const svg = h(
      "svg:svg",
      { id: "graph-svg", width: "100%", height: "100%", viewBox: `${vb.x} ${vb.y} ${vb.w} ${vb.h}` },
      h(
        "svg:defs",
        {},
        ["arrow", "arrow-catch", "arrow-taken"].map((id) =>
          h("svg:marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, h("svg:path", { d: "M0,0 L10,5 L0,10 z", class: id })),
        ),
      ),
      viewport,
    );
    const edgeEls = [];
    for (const e of g.edges()) {
      const edge = g.edge(e);
      const d = edge.points.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
      const path = h("svg:path", { d });
      const el = h("svg:g", { class: `edge ${edge.kind}`, "data-from": e.v, "data-to": e.w }, path);
      viewport.append(el);
      edgeEls.push({ el, path, v: e.v, w: e.w, kind: edge.kind });
    }
    const nodeEls = new Map();
    let pressedAt = null;
    for (const name of g.nodes()) {
      const { x, y, width: w, height: hh, node } = g.node(name);
      const rect = h("svg:rect", { width: w, height: hh, rx: 6 });
      const title = h("svg:title");
      const label = h("svg:text", { x: 8, y: 16, class: "name", "font-weight": node.type === "Task" || node.type === "Map" ? 600 : 400, text: name });
      const sub = h("svg:text", { x: 8, y: 31, class: "sub" });
      const group = h(
        "svg:g",
        {
          class: "node",
          "data-state": name,
          "data-type": node.type,
          transform: `translate(${(x - w / 2).toFixed(1)},${(y - hh / 2).toFixed(1)})`,
          onclick: (ev) => {
            if (pressedAt && Math.hypot(ev.clientX - pressedAt[0], ev.clientY - pressedAt[1]) > CLICK_SLOP_PX) return;
            drawn.onSelect(name);
          },
        },
        title,
        rect,
        label,
        sub,
      );
      viewport.append(group);
      nodeEls.set(name, { group, rect, title, label, sub, node, x, y, w, h: hh });
    }

    const fitWidth = Math.max(1, box.clientWidth);
    const maxHeight = Math.max(BOX_MIN_PX, Math.min(BOX_MAX_PX, window.innerHeight * BOX_MAX_OF_WINDOW));
    const height = Math.round(Math.min(maxHeight, Math.max(BOX_MIN_PX, vb.h * Math.min(MAX_FIT_ZOOM, fitWidth / vb.w))));
    box.style.height = `${height}px`;
    box.replaceChildren(svg);
    box.onmousedown = (ev) => (pressedAt = [ev.clientX, ev.clientY]);
    const pz = svgPanZoom(svg, {
      viewportSelector: viewport,
      fit: true,
      center: true,
      minZoom: 0.05,
      maxZoom: 20,
      zoomScaleSensitivity: 0.3,
      controlIconsEnabled: false,
      dblClickZoomEnabled: true,
      // The wheel scrolls the page until the reader clicks into the graph (then it zooms, until the pointer leaves).
      mouseWheelZoomEnabled: false,
      onZoom: () => markZoom(),
    });
    box.onclick = () => pz.enableMouseWheelZoom();
    box.onmouseleave = () => pz.disableMouseWheelZoom();
    drawn = { key, box, svg, pz, nodes: nodeEls, edges: edgeEls, onSelect };
    fit();
  }

  function markZoom() {
    if (drawn) drawn.box.dataset.zoom = drawn.pz.getSizes().realZoom.toFixed(3);
  }

  function paint(record, view, statuses, selected) {
    for (const [name, n] of drawn.nodes) {
      const s = statuses.get(name);
      const { status, sub } = nodeLook(n.node, s, record, view);
      const idle = status === "NOT_RUN";
      n.group.setAttribute("data-status", status);
      n.group.setAttribute("data-attempts", String(s?.attempts ?? 0));
      n.group.classList.toggle("selected", name === selected);
      n.group.classList.toggle("failed-run", name === view.failure?.state);
      n.group.classList.toggle("running", status === "RUNNING");
      n.group.classList.toggle("idle", idle);
      n.rect.setAttribute("fill", STATUS_COLORS[status] ?? "#999");
      n.sub.textContent = sub;
      n.title.textContent = `${name} (${n.node.type}): ${idle ? "not run" : status}${s?.attempts ? `, ${s.attempts} attempt${s.attempts > 1 ? "s" : ""}` : ""}`;
    }
    const taken = takenEdges(record);
    for (const e of drawn.edges) {
      const isTaken = taken.has(`${e.v}→${e.w}`);
      e.el.classList.toggle("taken", isTaken);
      e.path.setAttribute("marker-end", `url(#${isTaken ? "arrow-taken" : e.kind === "catch" ? "arrow-catch" : "arrow"})`);
    }
  }

  /** The whole drawing in its box, never enlarged past its own size. */
  function fit() {
    // A box with no size (hidden, or the window being resized) has nothing to fit into: zoom 0 breaks the drawing.
    if (!drawn || !drawn.box.clientWidth || !drawn.box.clientHeight) return;
    const { pz } = drawn;
    pz.resize();
    pz.fit();
    pz.center();
    const real = pz.getSizes().realZoom;
    if (real > MAX_FIT_ZOOM) {
      pz.zoom((pz.getZoom() * MAX_FIT_ZOOM) / real);
      pz.center();
    }
    markZoom();
  }

  function zoomBy(factor) {
    drawn?.pz.zoomBy(factor);
  }

  /** Makes a state readable and inside the box: zoomed in if the fit made it too small, panned to it if outside. */
  function focus(name) {
    const n = drawn?.nodes.get(name);
    if (!n) return;
    const { pz } = drawn;
    const real = pz.getSizes().realZoom;
    if (real < MIN_READABLE_ZOOM) pz.zoom((pz.getZoom() * FOCUS_ZOOM) / real);
    const { width, height, realZoom: z } = pz.getSizes();
    const pan = pz.getPan();
    const left = n.x * z + pan.x - (n.w * z) / 2;
    const top = n.y * z + pan.y - (n.h * z) / 2;
    if (left < 0 || top < 0 || left + n.w * z > width || top + n.h * z > height) pz.pan({ x: width / 2 - n.x * z, y: height / 2 - n.y * z });
    markZoom();
  }

  /** The state's node on the page (for scrolling it into view). */
  const nodeElement = (name) => drawn?.nodes.get(name)?.group ?? null;

  window.addEventListener("resize", () => {
    if (drawn?.box.isConnected) fit();
  });

  return { render, fit, zoomBy, focus, nodeElement, legend: Object.keys(STATUS_COLORS) };
})();
