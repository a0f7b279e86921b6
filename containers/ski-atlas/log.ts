/** Progress lines go to stderr as `[step] message`; stdout stays free for data. */
export type Logger = (message: string) => void;

export function stepLogger(step: string, out: { write(s: string): unknown } = process.stderr): Logger {
  return (message) => out.write(`[${step}] ${message}\n`);
}

export const silentLogger: Logger = () => {};

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
