import { spawn } from "node:child_process";
import * as path from "node:path";
import { EXIT, StepError } from "./exit-codes.ts";
import { PROJECT_ROOT } from "./project-root.ts";

/**
 * Makes sure osmium-tool is installed, through the project's own `scripts/ensure-osmium.sh` (apt-get as root or with
 * passwordless sudo, or brew; it says how otherwise). Called only where osmium is needed, when it is needed: the
 * offline sample region is written with it. Not from `npm start` itself: a run that needs no osmium (a real region,
 * `--source FILE`, weather, the jobs) or input that is refused anyway (`--region atlantis`) must not install packages
 * first. The script's progress goes to stderr as it comes; its `error:` line becomes the thrown error's message.
 */
export async function ensureOsmium(): Promise<void> {
  const script = path.join(PROJECT_ROOT, "scripts", "ensure-osmium.sh");
  const child = spawn("bash", [script], { stdio: ["ignore", "inherit", "pipe"] });
  let errorLine: string | undefined;
  let partial = "";
  child.stderr.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (line.startsWith("error: ")) errorLine = line.slice("error: ".length);
      else process.stderr.write(`${line}\n`);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (partial.startsWith("error: ")) errorLine = partial.slice("error: ".length);
  // A machine set-up problem, not a mistyped option: exit 64 (configuration), without the CLI's "see --help".
  if (code !== 0) throw new StepError(errorLine ?? `scripts/ensure-osmium.sh failed (exit ${code}): osmium-tool is needed to write the sample region`, EXIT.USAGE);
}
