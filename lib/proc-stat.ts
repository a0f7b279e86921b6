/**
 * One line of Linux's /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat, split into its command name and the
 * fields after it. The name (field 2) is in parentheses and may hold spaces or parentheses of its own, so the
 * split is after the last ')': `fields[0]` is field 3 (state), `fields[1]` the parent pid, `fields[11]` and
 * `fields[12]` utime and stime in clock ticks (proc(5)).
 */
export function parseProcStat(stat: string): { comm: string; fields: string[] } {
  return { comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), fields: stat.slice(stat.lastIndexOf(")") + 2).split(" ") };
}
