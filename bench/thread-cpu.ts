import { readdirSync, readFileSync } from "node:fs";
import { parseProcStat } from "../lib/proc-stat.ts";

/**
 * Where a step's CPU time goes, thread by thread: what the benchmark prints to say what bounds the extract (issue
 * 11 asks for a profile with every unmet target). Linux only: it samples /proc/<pid>/task/<tid>/stat of the
 * step's process while it runs and keeps each thread's last reading. A thread that ends between two samples loses
 * at most one interval of CPU; `unsampled` (the process's total from /usr/bin/time minus the sum) shows how much.
 *
 * Node 24 names its threads (comm): MainThread, WorkerThread (worker_threads), V8Worker (V8's platform threads:
 * concurrent GC and optimising compilation for every isolate), libuv-worker (the thread pool: async zlib, fs);
 * a worker given a name carries it: S3Reader (the extract's ranged GETs, containers/ski-atlas/range-thread.ts).
 */
export interface ThreadCpu {
  main: number;
  workers: number;
  /** The extract's S3 reader thread (receiving the ranged GETs). Absent in results written before it existed. */
  reader?: number;
  v8Helpers: number;
  libuvPool: number;
  other: number;
  /** How many worker_threads were seen. */
  workerThreads: number;
}

const GROUP_OF_COMM: Record<string, Exclude<keyof ThreadCpu, "workerThreads">> = {
  MainThread: "main",
  WorkerThread: "workers",
  S3Reader: "reader",
  V8Worker: "v8Helpers",
  "libuv-worker": "libuvPool",
};

/** Clock ticks per second of /proc's utime and stime (sysconf(_SC_CLK_TCK)); 100 on every Linux Node runs on. */
const CLK_TCK = 100;

/** One reading of every thread of `pid`: tid → [comm, CPU seconds]. Empty when the process is gone. */
export function readThreads(pid: number): Map<string, [string, number]> {
  const out = new Map<string, [string, number]>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const { comm, fields } = parseProcStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8"));
      out.set(tid, [comm, (Number(fields[11]) + Number(fields[12])) / CLK_TCK]);
    } catch {
      // The thread ended between listing and reading.
    }
  }
  return out;
}

/** The first child of `pid` (the command /usr/bin/time runs), or undefined before it has started. */
export function childOf(pid: number): number | undefined {
  try {
    const first = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ")[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}

/** Sums the last reading of every thread by group. */
export function groupThreads(last: Map<string, [string, number]>): ThreadCpu {
  const sum: ThreadCpu = { main: 0, workers: 0, reader: 0, v8Helpers: 0, libuvPool: 0, other: 0, workerThreads: 0 };
  for (const [comm, cpu] of last.values()) {
    const group = GROUP_OF_COMM[comm] ?? "other";
    sum[group] = (sum[group] ?? 0) + cpu;
    if (group === "workers") sum.workerThreads++;
  }
  return sum;
}

/**
 * Samples the threads of the process `parentPid` starts (its first child: /usr/bin/time's command) every
 * `intervalMs` until stop(). Sampling reads a few small files per thread: well under 1% of a core at 50 ms.
 */
export class ThreadCpuSampler {
  private readonly last = new Map<string, [string, number]>();
  private readonly timer: NodeJS.Timeout;
  private pid: number | undefined;

  constructor(
    private readonly parentPid: number,
    intervalMs = 50,
  ) {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    this.pid ??= childOf(this.parentPid);
    if (this.pid === undefined) return;
    for (const [tid, reading] of readThreads(this.pid)) this.last.set(tid, reading);
  }

  stop(): ThreadCpu {
    clearInterval(this.timer);
    return groupThreads(this.last);
  }
}

