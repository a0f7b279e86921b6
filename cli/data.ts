import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { DATA_FILES } from "../lib/data-catalog.ts";
import { dataDir, dataFile, DataFileError, type DataLocatorOptions } from "../lib/data-files.ts";
import { EXIT, StepError } from "../lib/exit-codes.ts";

/**
 * `npm run data`: finds (or fetches) every pinned data file and checks it against its size and sha256 (lib/data-files.ts
 * checks a local copy the first time a process uses it); prints where each set comes from, or names every set that
 * is missing or wrong in one line. `npm run data -- path <name>`: prints the path of one file or folder, for `$(…)` in a shell.
 */
const HELP = `usage:
  npm run data                         find or fetch every pinned data file, check its sha256, say where it is
  npm run --silent data -- path NAME   print the path of one file or folder (fetched when missing), e.g.
                                       osm/andorra-2021-06-22.osm.pbf, wx_data, yld_data/US_corn_grain_yield.txt
Looks in ATLAS_DATA_DIR, then ../shared/data, then .data/cache/; downloads from the pinned origin (or
ATLAS_DATA_MIRROR/<name>) into .data/cache/ otherwise. Origins and checksums: lib/data-catalog.ts.`;

const folders = [...new Set(DATA_FILES.map((f) => f.name.split("/")[0]))];

async function locate(name: string): Promise<string> {
  const isFolder = folders.includes(name) && !DATA_FILES.some((f) => f.name === name);
  return isFolder ? dataDir(name) : dataFile(name);
}

async function main(argv: string[], options: DataLocatorOptions = {}): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: "boolean", short: "h" } } });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals[0] === "path") {
    const name = positionals[1];
    const known = name && (folders.includes(name) || DATA_FILES.some((f) => f.name === name));
    if (!known) throw new StepError(`path needs one of ${folders.join(", ")} or a file they hold (lib/data-catalog.ts), not ${JSON.stringify(name ?? "")}`, EXIT.USAGE);
    console.log(await locate(name));
    return 0;
  }
  if (positionals.length) throw new StepError(`unknown command '${positionals[0]}' (see npm run data -- --help)`, EXIT.USAGE);

  await checkAllData(options, (line) => console.log(line));
  return 0;
}

/**
 * Finds (or fetches) every pinned set at once and prints where each comes from; every set that is missing or wrong
 * is named in one error line (not one per try: a new user learns about ATLAS_DATA_DIR from the first).
 */
export async function checkAllData(options: DataLocatorOptions, say: (line: string) => void): Promise<void> {
  const catalog = options.catalog ?? DATA_FILES;
  const folders = [...new Set(catalog.map((f) => f.name.split("/")[0]))];
  const sets = folders.map((folder) => ({ folder, files: catalog.filter((f) => f.name.startsWith(`${folder}/`)) }));
  const found = await Promise.allSettled(
    // A folder of many files comes whole from one place (each file checked); a single file is located on its own.
    sets.map(({ folder, files }) => (files.length > 1 ? dataDir(folder, options) : dataFile(files[0].name, options).then(path.dirname))),
  );
  const problems: DataFileError[] = [];
  found.forEach((result, i) => {
    const { folder, files } = sets[i];
    if (result.status === "fulfilled") say(`${folder}/  ${files.length} file${files.length > 1 ? "s" : ""}  ${path.relative(process.cwd(), result.value) || "."}`);
    else if (result.reason instanceof DataFileError) problems.push(result.reason);
    else throw result.reason;
  });
  if (problems.length === 1) throw problems[0];
  if (problems.length > 1) {
    const named = problems.map((p) => `${p.subject} (${p.problem})`).join(", ");
    throw new StepError(
      `${problems.length} of the ${sets.length} data sets cannot be used: ${named}: set ATLAS_DATA_DIR to a folder laid out like ../shared/data ` +
        `(${folders.map((f) => `${f}/`).join(", ")}), or ATLAS_DATA_MIRROR to a web server over one; origins and checksums: lib/data-catalog.ts`,
      problems[0].exitCode,
    );
  }
  say(`all ${catalog.length} files match their pinned size and sha256`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  // Ctrl-C exits through process.exit, so that lib/data-files.ts removes the partial file of a download under way.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(signal, () => process.exit(128 + os.constants.signals[signal]));
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`error: ${err.message.split("\n")[0]}`);
      process.exit(err instanceof StepError ? err.exitCode : 1);
    },
  );
}
