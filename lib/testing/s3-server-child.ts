import { startEmbeddedS3 } from "../embedded-s3.ts";

/**
 * An embedded S3 server in a process of its own (tests: two servers on one data folder): serves the folder given
 * as the first argument with the buckets that follow, prints its endpoint as one line on stdout, and stops on
 * SIGTERM.
 */
const [directory, ...buckets] = process.argv.slice(2);
const server = await startEmbeddedS3({ directory, buckets });
process.stdout.write(`${server.endpoint}\n`);
process.once("SIGTERM", () => void server.stop().then(() => process.exit(0)));
