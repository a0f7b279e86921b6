/** Small formatting helpers for the human-readable notification bodies. */

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "?";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const totalSeconds = ms / 1000;
  if (totalSeconds < 60) return `${totalSeconds.toFixed(1)} s`;
  const seconds = Math.round(totalSeconds);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h} h ${m} min` : `${m} min ${s} s`;
}

/** SNS subjects: printable ASCII, no line breaks, fewer than 100 characters. */
export function snsSubject(text: string): string {
  const clean = text.replace(/[\r\n\t]+/g, " ").replace(/[^\x20-\x7e]/g, "?").trim();
  return clean.length <= 99 ? clean : `${clean.slice(0, 96)}...`;
}

/** SNS messages are limited to 256 KB; keep well under it. */
export function snsMessage(text: string): string {
  if (Buffer.byteLength(text, "utf8") <= 250_000) return text;
  return `${text.slice(0, 60_000)}\n… (truncated)`;
}

export { oneLine } from "../lib/one-line.ts";
