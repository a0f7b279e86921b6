import { readdirSync, readFileSync } from "node:fs";
import { inflateParsedSync, parseBlob, readBlob, scanBlocks, type ParsedBlob } from "../containers/ski-atlas/pbf/blocks.ts";
import { FileSource } from "../containers/ski-atlas/pbf/source.ts";

/**
 * Where a step's CPU time goes, thread by thread: what the benchmark prints to say what bounds the extract (issue
 * 11 asks for a profile with every unmet target). Linux only: it samples /proc/<pid>/task/<tid>/stat of the
 * step's process while it runs and keeps each thread's last reading. A thread that ends between two samples loses
 * at most one interval of CPU; `unsampled` (the process's total from /usr/bin/time minus the sum) shows how much.
 *
 * Node 24 names its threads (comm): MainThread, WorkerThread (worker_threads), V8Worker (V8's platform threads:
 * concurrent GC and optimising compilation for every isolate), libuv-worker (the thread pool: async zlib, fs).
 */
export interface ThreadCpu {
  main: number;
  workers: number;
  v8Helpers: number;
  libuvPool: number;
  other: number;
  /** How many worker_threads were seen. */
  workerThreads: number;
}

const GROUP_OF_COMM: Record<string, Exclude<keyof ThreadCpu, "workerThreads">> = {
  MainThread: "main",
  WorkerThread: "workers",
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
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      // comm is in parentheses and may hold spaces; the fields after it start at state (field 3).
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
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
  const sum: ThreadCpu = { main: 0, workers: 0, v8Helpers: 0, libuvPool: 0, other: 0, workerThreads: 0 };
  for (const [comm, cpu] of last.values()) {
    const group = GROUP_OF_COMM[comm] ?? "other";
    sum[group] += cpu;
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

/** CPU seconds of the calling thread alone (Node ≥ 23.9), or of the whole process on an older Node. */
function threadCpuSeconds(): number {
  const usage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.() ?? process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/**
 * The CPU seconds it takes one thread to inflate every block of `file` once, with the extractor's own code
 * (blocks.ts): the floor of any reader of the file, whatever it does after inflating. Reads are not counted:
 * blobs are read in batches of about 64 MiB, then inflated.
 */
export async function inflateFloorCpuS(file: string): Promise<{ cpuS: number; blocks: number; inflatedMB: number }> {
  const src = await FileSource.open(file);
  try {
    const refs = await scanBlocks(src);
    let cpuS = 0, inflated = 0;
    for (let i = 0; i < refs.length; ) {
      const batch: ParsedBlob[] = [];
      for (let bytes = 0; i < refs.length && bytes < 64 * 2 ** 20; i++) {
        batch.push(parseBlob(await readBlob(src, refs[i])));
        bytes += refs[i].size;
      }
      const before = threadCpuSeconds();
      for (const blob of batch) inflated += inflateParsedSync(blob).length;
      cpuS += threadCpuSeconds() - before;
    }
    return { cpuS, blocks: refs.length, inflatedMB: inflated / 1e6 };
  } finally {
    await src.close();
  }
}
