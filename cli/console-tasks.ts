import { TaskClient } from "../lib/tasks/task-client.ts";
import type { TaskPage } from "../lib/tasks/task-table.ts";
import { connectOfflineTasks, tasksDir } from "./tasks-offline.ts";

/** The tasks page's list: the newest tasks, or those of one status, newest change first. */
export type TaskList = (query: { status?: string }) => Promise<TaskPage>;

/** Tasks the page lists at most (the task API's page). */
const LISTED = 200;

/**
 * The offline task table, read as `npm start -- tasks list` reads it: through the task API of the platform that
 * holds the store, started in the background when none runs (cli/tasks-offline.ts), so that the console never
 * opens the store itself (one process holds it).
 */
export function offlineTaskList(dir = tasksDir()): TaskList {
  return async ({ status }) => {
    const platform = await connectOfflineTasks(dir, { start: "background" });
    try {
      return await new TaskClient({ baseUrl: platform.apiUrl }).list({ status, limit: LISTED });
    } finally {
      platform.close();
    }
  };
}
