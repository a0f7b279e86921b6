import { makeSinks, type Sinks } from "../lib/local-sinks.ts";
import { ConfigurationError } from "./errors.ts";

/** The one place the Lambda helpers read their environment. Handlers call `loadConfig()` and pass the result
 * down; the pure logic never touches `process.env`. */
export interface AtlasConfig {
  /** `ATLAS_BUCKET`: the data bucket (raw, staging and published files). */
  bucket?: string;
  /** `ATLAS_TOPIC_ARN`: the SNS topic Notify publishes to. */
  topicArn?: string;
  /** `ATLAS_LOCAL=1`: run by the local engine (allows file:// and http://127.0.0.1 sources). */
  local: boolean;
  /** `ATLAS_ALLOWED_SOURCE_HOSTS`: comma list of hosts sources may come from. */
  allowedSourceHosts: string[];
  /** `ATLAS_LOCAL_SINK_DIR`: when set, Metrics and Notify write JSON lines there instead of calling AWS. */
  localSinkDir?: string;
  /** `ATLAS_CONSOLE_REGION`: the region of console links. When unset, links use the execution ARN's own
   * region, then `AWS_REGION`. */
  consoleRegion?: string;
  /** `AWS_REGION` / `AWS_DEFAULT_REGION`: the region of the AWS clients. */
  awsRegion?: string;
}

export const DEFAULT_ALLOWED_SOURCE_HOSTS = ["download.geofabrik.de"];

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AtlasConfig {
  const hosts = (env.ATLAS_ALLOWED_SOURCE_HOSTS ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const awsRegion = nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION);
  return {
    bucket: nonEmpty(env.ATLAS_BUCKET),
    topicArn: nonEmpty(env.ATLAS_TOPIC_ARN),
    local: env.ATLAS_LOCAL === "1",
    allowedSourceHosts: hosts.length > 0 ? hosts : DEFAULT_ALLOWED_SOURCE_HOSTS,
    localSinkDir: nonEmpty(env.ATLAS_LOCAL_SINK_DIR),
    consoleRegion: nonEmpty(env.ATLAS_CONSOLE_REGION),
    awsRegion,
  };
}

export function requireBucket(config: AtlasConfig): string {
  if (!config.bucket) throw new ConfigurationError("ATLAS_BUCKET is not set: the function needs the data bucket's name");
  return config.bucket;
}

/** Metrics and Notify outputs: local JSON-lines files when `ATLAS_LOCAL_SINK_DIR` is set, else CloudWatch/SNS. */
export function sinksFromConfig(config: AtlasConfig): Sinks {
  return makeSinks({ localSinkDir: config.localSinkDir, topicArn: config.topicArn, region: config.awsRegion });
}
