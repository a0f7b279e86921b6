import type { AddressInfo } from "node:net";
import dynalite from "dynalite";

/**
 * A DynamoDB API server (dynalite 4) inside this process, for the offline task platform and for tests. Point the
 * SDK at it with `AWS_ENDPOINT_URL_DYNAMODB=<endpoint>` (any credentials). What dynalite lacks, the task code does
 * not use: transactions (every status change is one conditional write), streams, and TTL expiry (the TTL
 * attribute is written; nothing deletes expired records offline).
 */
export interface EmbeddedDynamoDb {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  stop(): Promise<void>;
}

export async function startEmbeddedDynamoDb(opts: { directory?: string } = {}): Promise<EmbeddedDynamoDb> {
  // Tables are ACTIVE at once: DynamoDB's CREATING delay means nothing offline (dynalite's default is 500 ms).
  const server = dynalite({ ...(opts.directory ? { path: opts.directory } : {}), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop() {
      stopped ??= new Promise<void>((resolve, reject) => {
        server.closeAllConnections?.();
        server.close((err) => (err ? reject(err) : resolve()));
      });
      return stopped;
    },
  };
}
