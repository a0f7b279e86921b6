import { parseArgs } from "node:util";
import { startConsole, TILE_URL_ENV } from "./console-server.ts";

const HELP = `usage: npm run console -- [--port N] [--runs DIR]

Serves the run console on 127.0.0.1: past and live runs, each run's state machine graph, timeline, logs and
published files (table preview, and a map for the ski atlas).

  --port N     port to listen on (default: a free one)
  --runs DIR   the run folders (default: .data/runs)

environment:
  ${TILE_URL_ENV}   a basemap tile URL (https://…/{z}/{x}/{y}.png); without it the map draws only the data`;

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: "string" }, runs: { type: "string" }, help: { type: "boolean", short: "h", default: false } },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
    console.error(`error: --port must be a port number (0-65535), not '${values.port}'`);
    process.exit(64);
  }
  const server = await startConsole({ port, runsRoot: values.runs });
  console.log(`run console: ${server.url} (Ctrl-C to stop)`);
  await server.keepServing(0);
}

main(process.argv.slice(2)).catch((err: Error & { code?: string }) => {
  console.error(`error: ${err.message.split("\n")[0]}`);
  process.exit(err.code?.startsWith("ERR_PARSE_ARGS") ? 64 : err.code === "EADDRINUSE" ? 75 : 1);
});
