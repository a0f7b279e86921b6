/* The list of runs (`#/?status=&workflow=`): newest first, filterable. Each row leads with the execution's name,
 * the link into the run, so it stays on-screen on a narrow window, then its status, when it ended, and the step
 * that failed it with the reason in one sentence; columns a narrow window can spare are marked `wide` (app.css
 * hides them below 1100 px). */
"use strict";

(() => {
  const { h, statusBadge, seconds, when, keyInput, getJson, setParams } = atlasConsole;
  const COLUMNS = [
    { title: "run" },
    { title: "status" },
    { title: "started", wide: true },
    { title: "ended" },
    { title: "failed step" },
    { title: "outputs", wide: true },
  ];

  async function showRuns(_match, params, container) {
    const runs = await getJson("/api/runs");
    const status = params.get("status") ?? "";
    const workflow = params.get("workflow") ?? "";
    const options = (values, selected) => [h("option", { value: "", text: "all" }), ...values.map((v) => h("option", { value: v, selected: v === selected, text: v }))];
    const shown = runs.filter((r) => (!status || r.status === status) && (!workflow || r.workflow === workflow));
    container.replaceChildren(
      h(
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
          h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", { class: [c.wide ? "wide" : "", c.num ? "num" : ""].join(" ").trim() || null, text: c.title })))),
          h("tbody", {}, shown.map(runRow)),
        ),
      ),
    );
  }

  /** The run's execution name (the link into it) over its workflow and input; its end over its duration. */
  function runRow(r) {
    const href = `#/run/${encodeURIComponent(r.id)}`;
    return h(
      "tr",
      { "data-run": r.id, "data-status": r.status, "data-workflow": r.workflow },
      h("td", { class: "run" }, h("a", { href, title: r.id, text: r.execution }), h("div", { class: "muted what", text: `${r.workflow} ${keyInput(r.key_input)}` })),
      h("td", {}, statusBadge(r.status)),
      h("td", { class: "wide when", text: when(r.started_at) }),
      h("td", { class: "ended" }, h("div", { class: "when", text: r.stopped_at ? when(r.stopped_at) : "running" }), h("div", { class: "muted", text: seconds(r.duration_ms) })),
      h(
        "td",
        { class: "failed-step" },
        r.failure?.state ? h("strong", { text: r.failure.state }) : null,
        r.failure ? h("div", { class: "why muted", title: r.failure.sentence, text: r.failure.sentence }) : null,
      ),
      h("td", { class: "wide", text: r.outputs ? `${r.outputs} (${r.files} files)` : r.children ? `${r.children} child runs` : "" }),
    );
  }

  atlasConsole.addView({ name: "runs", title: "Runs", href: "#/", pattern: /^\/$/, show: showRuns });
})();
