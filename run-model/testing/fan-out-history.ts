import { STATE_NAMES } from "../state-names.ts";
import { History } from "./history-builder.ts";

/** What the item of a fan-out does in `fanOutHistory`: its nested execution succeeds, fails with an error, or is not started. */
export type ItemPlan = { region: string } & ({ outcome: "succeeded" } | { outcome: "failed"; error: string; message: string } | { outcome: "not started"; previous: string });

/** A nested execution's failure as `startExecution.sync` reports it: the child's own Error and Cause inside. */
export const nestedFailure = (name: string, error: string, message: string): string =>
  JSON.stringify({ ExecutionArn: `arn:aws:states:eu-west-1:123456789012:execution:ski-atlas:${name}`, Name: name, Status: "FAILED", Error: error, Cause: JSON.stringify({ errorType: error, errorMessage: message }) });

/**
 * The monthly fan-out's history as Step Functions writes it: Plan, then the `Regions` Map with one iteration per
 * item (start this item? → run ski-atlas → item succeeded / failed, or → item not started), Summarize, the digest
 * sent and Succeeded, with the digest as output (`status` PARTIAL when some items failed).
 */
export function fanOutHistory(period: string, items: ItemPlan[]): History {
  const id = "regions";
  const map = STATE_NAMES.step(id);
  const history = new History().add(0, "ExecutionStarted", { input: "{}" }).through(0, "Pass", STATE_NAMES.initialize).enter(1, "Map", map, {});
  items.forEach((item, index) => {
    const t = 2 + index * 10;
    const name = `${item.region}-${period}`;
    const input = { region: item.region, period, name, start: item.outcome !== "not started", previous: item.outcome === "not started" ? { name: item.previous, status: "SUCCEEDED" } : null };
    history.add(t, "MapIterationStarted", { name: map, index }).through(t, "Choice", STATE_NAMES.itemStart(id), input);
    if (item.outcome === "not started") {
      history.through(t, "Pass", STATE_NAMES.itemNotStarted(id), input);
    } else {
      history.enter(t, "Task", STATE_NAMES.runChild(id, "ski-atlas"), input);
      history.execution(t, item.outcome === "failed" ? { error: "States.TaskFailed", cause: nestedFailure(name, item.error, item.message), after: 3 } : undefined);
      history.exit(t + 5, "Task", STATE_NAMES.runChild(id, "ski-atlas"));
      history.through(t + 5, "Pass", item.outcome === "failed" ? STATE_NAMES.itemFailed(id) : STATE_NAMES.itemSucceeded(id), input);
    }
    history.add(t + 6, "MapIterationSucceeded", { name: map, index });
  });
  const failed = items.filter((i) => i.outcome === "failed");
  const ok = items.length - failed.length;
  const status = failed.length === 0 ? "SUCCEEDED" : ok ? "PARTIAL" : "FAILED";
  const digest = { status, subject: `[atlas] ski-atlas-monthly ${period} ${status} (${ok}/${items.length} regions ok)`, failed: failed.map((f) => ({ region: f.region, cause: f.outcome === "failed" ? `${f.error}: ${f.message}` : "" })) };
  const end = 3 + items.length * 10;
  return history
    .exit(end, "Map", map)
    .through(end, "Pass", STATE_NAMES.step("summarize"))
    .through(end, "Succeed", STATE_NAMES.succeeded)
    .add(end, "ExecutionSucceeded", { output: JSON.stringify({ digest }) });
}
