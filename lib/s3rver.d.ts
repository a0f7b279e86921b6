// Minimal typings for s3rver 3.x (the package ships none). Only what lib/embedded-s3.ts uses.
declare module "s3rver" {
  import type { AddressInfo } from "node:net";
  interface S3rverOptions {
    port?: number;
    address?: string;
    silent?: boolean;
    directory: string;
    resetOnClose?: boolean;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }
  export default class S3rver {
    constructor(options: S3rverOptions);
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
    /** Koa's middleware list (s3rver extends Koa): lib/embedded-s3.ts puts conditional writes first. */
    middleware: unknown[];
  }
}
