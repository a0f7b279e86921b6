import * as path from "node:path";
import { parseArgs } from "node:util";
import { DATA_FILES } from "../lib/data-catalog.ts";
import { dataDir, dataFile } from "../lib/data-files.ts";
import { EXIT, StepError } from "../lib/exit-codes.ts";
import { digestFile } from "../lib/hash.ts";

/**
 * `npm run data`: finds (or fetches) every pinned data file and checks it against its sha256; prints where each set
 * comes from. `npm run data -- path <name>`: prints the path of one file or folder, for `$(…)` in a shell.
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

async function main(argv: string[]): Promise<number> {
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

  let bad = 0;
  for (const folder of folders) {
    const files = DATA_FILES.filter((f) => f.name.startsWith(`${folder}/`));
    // A folder of many files comes whole from one place; a single file is located on its own.
    const where = files.length > 1 ? await dataDir(folder) : path.dirname(await dataFile(files[0].name));
    for (const f of files) {
      const { hex, bytes } = await digestFile(path.join(where, path.basename(f.name)));
      if (hex !== f.sha256 || bytes !== f.bytes) {
        bad++;
        console.error(`error: ${path.join(where, path.basename(f.name))} is ${bytes} bytes with sha256 ${hex}, not the pinned ${f.bytes} bytes with sha256 ${f.sha256}: replace it`);
      }
    }
    console.log(`${folder}/  ${files.length} file${files.length > 1 ? "s" : ""}  ${path.relative(process.cwd(), where) || "."}`);
  }
  if (bad) return EXIT.DATA_ERROR;
  console.log(`all ${DATA_FILES.length} files match their pinned sha256`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`error: ${err.message.split("\n")[0]}`);
    process.exit(err instanceof StepError ? err.exitCode : 1);
  },
);
