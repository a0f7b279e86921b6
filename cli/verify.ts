import { stat } from "node:fs/promises";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { countProblems } from "../containers/ski-atlas/verify.ts";
import { classifyError } from "../lib/classify-error.ts";
import { EXIT } from "../lib/exit-codes.ts";
import { breakLease } from "../lib/prefix-lease.ts";
import { makeS3Client } from "../lib/s3.ts";
import { localDirectory, s3Prefix, verifyPublished, type PrefixReader } from "../lib/verify-prefix.ts";

const USAGE = `usage: npm run verify -- <s3://bucket/prefix/ | directory>
       npm run verify -- --break-lease <s3://bucket/prefix/>

Checks a published prefix (a ski-atlas month, a weather day, any prefix published with manifest.json) as a reader
sees it: its manifest, then every listed file where the manifest says (its version folder, versions/<id>/) with
its sha256 and bytes, and no unlisted file there. Version folders no manifest names (a publish that failed or lost
its lease) are never read: they are mentioned, not errors, and the next publish removes them. A directory is
checked the same way from disk (e.g. the copy \`npm start -- --out DIR\` leaves in DIR/{region}/{period}/).
S3 uses the default AWS credentials, or the embedded S3 server when AWS_ENDPOINT_URL_S3 is set.
Prints one line per problem, or "OK <n> files"; exit 0 when intact, 1 when not, 64 for bad usage, 75 when S3 does
not answer in time (ATLAS_S3_*_TIMEOUT_MS, see docs/WORKFLOWS.md) or answers 5xx: retry.

--break-lease deletes the prefix's writer lease (_lease.json), e.g. one left by a writer whose clock ran ahead,
and prints whose it was. Safe while a writer runs: it loses the lease at its next check and cannot commit over a
later version.`;

export interface VerifyIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

/** `npm run verify -- <target>`: returns the exit code. */
export async function verifyMain(argv: string[], env: NodeJS.ProcessEnv = process.env, io: VerifyIO = process): Promise<number> {
  if (argv[0] === "--break-lease") return breakLeaseMain(argv.slice(1), env, io);
  const target = argv[0];
  if (!target || argv.length > 1 || target === "--help" || target === "-h") {
    (target === "--help" || target === "-h" ? io.stdout : io.stderr).write(`${USAGE}\n`);
    return target === "--help" || target === "-h" ? 0 : 64;
  }
  let reader: PrefixReader;
  let destroy = () => {};
  if (target.startsWith("s3://")) {
    const s3 = makeS3Client(env);
    destroy = () => s3.destroy();
    reader = s3Prefix(s3, target);
  } else {
    const dir = path.resolve(target);
    const info = await stat(dir).catch(() => undefined);
    if (!info?.isDirectory()) {
      io.stderr.write(`error: ${target} is neither an s3:// prefix nor a directory\n`);
      return 64;
    }
    reader = localDirectory(dir);
  }
  try {
    const { problems, manifest, leftovers } = await verifyPublished(reader);
    if (manifest?.workflow === "ski-atlas") problems.push(...countProblems(manifest));
    for (const p of problems) io.stdout.write(`${p}\n`);
    if (problems.length > 0) return 1;
    const unread = leftovers.map((d) => d || "data files beside the manifest");
    io.stdout.write(`OK ${manifest!.files.length} files${unread.length ? ` (not read, removed by the next publish: ${unread.join(", ")})` : ""}\n`);
    return 0;
  } catch (err) {
    // S3 that does not answer (timeouts, lib/s3.ts) or answers 5xx: exit 75, so a caller knows to retry.
    const retryable = classifyError(err).exitCode === EXIT.TEMP_FAIL;
    io.stderr.write(`error: cannot read ${reader.location}: ${(err as Error).name}: ${(err as Error).message.replace(/\s+/g, " ")}${retryable ? " (retry later)" : ""}\n`);
    return retryable ? EXIT.TEMP_FAIL : 1;
  } finally {
    destroy();
  }
}

/** `npm run verify -- --break-lease <s3://…/>`: one line saying whose lease was broken, or that there was none. */
async function breakLeaseMain(argv: string[], env: NodeJS.ProcessEnv, io: VerifyIO): Promise<number> {
  const target = argv[0];
  if (argv.length !== 1 || !target?.startsWith("s3://")) {
    io.stderr.write(`error: --break-lease takes one s3://bucket/prefix/ (the month or day whose lease to delete)\n`);
    return EXIT.USAGE;
  }
  const s3 = makeS3Client(env);
  try {
    io.stdout.write(`${await breakLease(s3, target)}\n`);
    return 0;
  } catch (err) {
    const retryable = classifyError(err).exitCode === EXIT.TEMP_FAIL;
    io.stderr.write(`error: cannot break the lease of ${target}: ${(err as Error).name}: ${(err as Error).message.replace(/\s+/g, " ")}${retryable ? " (retry later)" : ""}\n`);
    return retryable ? EXIT.TEMP_FAIL : 1;
  } finally {
    s3.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.exitCode = await verifyMain(process.argv.slice(2));
}
