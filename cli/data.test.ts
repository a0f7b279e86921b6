import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataFileSpec } from "../lib/data-catalog.ts";
import { EXIT } from "../lib/exit-codes.ts";
import { checkAllData } from "./data.ts";

/**
 * `npm run data` in a fresh clone without ../shared/data, offline: every set that is missing is named in one line,
 * with ATLAS_DATA_DIR as the way out, instead of one error per run of the command.
 */
let scratch: string;
let port: number;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "data-cli-test-"));
  // A port that just closed: connecting is refused, as on a machine without network.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("npm run data with nothing on the machine and no network", () => {
  it("GIVEN no shared copy, no cache and unreachable origins WHEN every set is checked THEN one line names all three sets and says to set ATLAS_DATA_DIR", async () => {
    const spec = (name: string): DataFileSpec => ({ name, sha256: "0".repeat(64), bytes: 10, url: `http://127.0.0.1:${port}/${name}` });
    const catalog = [spec("osm/region.osm.pbf"), spec("wx_data/A.txt"), spec("wx_data/B.txt"), spec("yld_data/yield.txt")];
    const said: string[] = [];
    const options = { env: {}, sharedDir: path.join(scratch, "no-shared"), cacheDir: path.join(scratch, "cache"), catalog };
    const err = await checkAllData(options, (line) => said.push(line)).catch((e: unknown) => e);
    expect(said).toEqual([]);
    expect((err as { exitCode: number }).exitCode).toBe(EXIT.NO_INPUT);
    expect((err as Error).message).toBe(
      "3 of the 3 data sets cannot be used: osm/region.osm.pbf (cannot be reached: ECONNREFUSED), wx_data/ (2 files) (cannot be reached: ECONNREFUSED), " +
        "yld_data/yield.txt (cannot be reached: ECONNREFUSED): set ATLAS_DATA_DIR to a folder laid out like ../shared/data (osm/, wx_data/, yld_data/), " +
        "or ATLAS_DATA_MIRROR to a web server over one; origins and checksums: lib/data-catalog.ts",
    );
  });
});
