/* The run console's shell: DOM and format helpers, the address (the page's only state), a small router and the
 * nav. Each page registers itself with `atlasConsole.addView` from a script of its own, loaded after this one:
 * runs.js (the list) and run.js (one run, its graph in graph.js). Another tab is one more such script: its
 * `addView({ title, href, … })` puts a link in the nav. Nothing renders before the DOM is ready, so every script
 * of the page has registered by then. */
"use strict";

const atlasConsole = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  /** Colours of run, state and attempt statuses (app.css has the same for badges). */
  const STATUS_COLORS = {
    SUCCEEDED: "#2e8540", FAILED: "#c62828", CAUGHT: "#ef6c00", RUNNING: "#1565c0", ABORTED: "#616161",
    TIMED_OUT: "#6a1b9a", PARTIAL: "#b28704", NOT_STARTED: "#8c959f", NOT_RUN: "#e0e0e0",
  };

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

  const statusBadge = (status, label = status) => h("span", { class: `status status-${status}`, "data-status": status, text: label.replace("_", " ") });
  const seconds = (ms) => (ms === null || ms === undefined ? "" : ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`);
  const bytes = (n) => (n === null || n === undefined ? "" : n < 1024 ? `${n} B` : n < 2 ** 20 ? `${(n / 1024).toFixed(1)} KiB` : n < 2 ** 30 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 2 ** 30).toFixed(2)} GiB`);
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
  const prettyText = (text) => {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  };
  const pretty = (v) => (typeof v === "string" ? prettyText(v) : JSON.stringify(v, null, 2));
  const keyInput = (k) => Object.entries(k).map(([name, v]) => `${name}=${v}`).join(" ");

  async function getJson(url) {
    const res = await fetch(url, { cache: "no-store" });
    if (!res.ok) throw new Error(`${url}: ${res.status} ${(await res.text()).slice(0, 200)}`);
    return res.json();
  }

  // -------------------------------------------------------------------------------------------- the address

  /** `#/path?query`: the page shown and its options. */
  function route() {
    const [pathPart, query = ""] = location.hash.replace(/^#/, "").split("?");
    return { path: pathPart || "/", params: new URLSearchParams(query) };
  }

  /** Changes options of the address; `replace` changes it in place (no history entry, no redraw). */
  function setParams(changes, { replace = false } = {}) {
    const { path, params } = route();
    for (const [k, v] of Object.entries(changes)) (v === null || v === "" ? params.delete(k) : params.set(k, v));
    const q = params.toString();
    const hash = `#${path}${q ? `?${q}` : ""}`;
    if (replace) history.replaceState(null, "", hash);
    else location.hash = hash;
  }

  // ------------------------------------------------------------------------------------------------- router

  /**
   * The pages. A view: `pattern` (a RegExp on the path), `show(match, params, container)` (async; draws into the
   * container, and may draw again later, e.g. while a run is live), `leave()` (optional: stop timers), and for a
   * tab in the nav `title` and `href` (its `nav` names the tab a page belongs to).
   */
  const views = [];
  let active = null;

  function addView(view) {
    views.push(view);
    if (view.title) {
      const link = h("a", { href: view.href, "data-nav": view.name, text: view.title });
      document.getElementById("nav")?.append(link);
    }
  }

  function showError(err) {
    document.getElementById("view").replaceChildren(h("section", {}, h("h1", { text: "error" }), h("pre", { text: String(err.message ?? err) })));
  }

  function render() {
    const { path, params } = route();
    const view = views.find((v) => v.pattern.test(path));
    if (active && active !== view) active.leave?.();
    active = view ?? null;
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("current", a.dataset.nav === (view?.nav ?? view?.name));
    if (!view) return showError(new Error(`no page at ${path}`));
    Promise.resolve(view.show(view.pattern.exec(path), params, document.getElementById("view"))).catch(showError);
  }

  window.addEventListener("hashchange", render);
  document.addEventListener("DOMContentLoaded", render);

  return { h, statusBadge, seconds, bytes, when, pretty, prettyText, keyInput, getJson, route, setParams, addView, showError, STATUS_COLORS };
})();
