import { readFile, readdir } from "node:fs/promises";
import { parseProcStat } from "../lib/proc-stat.ts";

/**
 * Resident memory of a process and all its descendants, in bytes, read from /proc: what a container's
 * memory cgroup would count (the step's node process plus osmium). Returns 0 where /proc is missing.
 */
export async function treeRssBytes(rootPid: number): Promise<number> {
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return 0;
  }
  const parents = new Map<number, number>();
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (e) => {
        try {
          const stat = await readFile(`/proc/${e}/stat`, "utf8");
          const ppid = Number(parseProcStat(stat).fields[1]);
          parents.set(Number(e), ppid);
        } catch {
          /* the process ended meanwhile */
        }
      }),
  );
  const tree = new Set([rootPid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  let total = 0;
  await Promise.all(
    [...tree].map(async (pid) => {
      try {
        const status = await readFile(`/proc/${pid}/status`, "utf8");
        const match = /VmRSS:\s+(\d+) kB/.exec(status);
        if (match) total += Number(match[1]) * 1024;
      } catch {
        /* gone */
      }
    }),
  );
  return total;
}
