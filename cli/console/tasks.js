/* The tasks on demand (`#/tasks?status=`): the offline task table's newest tasks, or those of one status, each with
 * its status, type and queue, attempts, when it was submitted and last changed, and why it failed. The task's
 * runs are in the Runs tab (workflow tasks-gpu or tasks-cpu). */
"use strict";

(() => {
  const { h, statusBadge, when, getJson, setParams } = atlasConsole;
  const STATUSES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED"];

  async function showTasks(_match, params, container) {
    const status = params.get("status") ?? "";
    const page = await getJson(`/api/tasks${status ? `?status=${encodeURIComponent(status)}` : ""}`);
    const options = [h("option", { value: "", text: "all" }), ...STATUSES.map((s) => h("option", { value: s, selected: s === status, text: s }))];
    container.replaceChildren(
      h(
        "section",
        { id: "tasks" },
        h("h1", { text: "Tasks" }),
        h(
          "div",
          { class: "filters" },
          h("label", {}, "status ", h("select", { id: "filter-task-status", onchange: (e) => setParams({ status: e.target.value }) }, options)),
          h("span", { class: "muted", text: `${page.tasks.length} task${page.tasks.length === 1 ? "" : "s"}${page.next ? " (the newest)" : ""}` }),
        ),
        h(
          "table",
          { id: "tasks-table" },
          h("thead", {}, h("tr", {}, ["task", "status", "attempts", "submitted", "updated", "error"].map((t) => h("th", { text: t })))),
          h("tbody", {}, page.tasks.map(taskRow)),
        ),
      ),
    );
  }

  function taskRow(t) {
    return h(
      "tr",
      { "data-task": t.taskId, "data-status": t.status },
      h("td", { class: "task" }, h("strong", { text: t.taskId }), h("div", { class: "muted", text: `${t.type} on the ${t.queue} queue` })),
      h("td", {}, statusBadge(t.status)),
      h("td", { class: "num", text: String(t.attempts) }),
      h("td", { class: "when", text: when(t.submittedAt) }),
      h("td", { class: "when", text: when(t.updatedAt) }),
      h("td", { class: "why muted", text: t.error ?? "" }),
    );
  }

  atlasConsole.addView({ name: "tasks", title: "Tasks", href: "#/tasks", pattern: /^\/tasks$/, show: showTasks });
})();
