/**
 * Errors the Lambda helpers throw on purpose. Each sets `name` explicitly (bundlers may rename classes): the
 * Lambda runtime reports `name` as the `errorType`, which is what Step Functions Retry and Catch match on.
 *
 * | name                     | when                                             | retried |
 * |--------------------------|--------------------------------------------------|---------|
 * | `InvalidInputError`      | bad execution input (region, period, source)     | never   |
 * | `SourceNotFoundError`    | the source answers 404/410 or another final 4xx  | never   |
 * | `SourceUnavailableError` | network error, timeout, 5xx, 408, 429            | yes     |
 * | `SourceOfflineError`     | local runs: the source's host does not resolve or | never   |
 * |                          | the network is unreachable (this machine offline) |         |
 * | `ManifestNotFoundError`  | a SUCCEEDED run has no manifest.json to read     | never   |
 * | `InvalidManifestError`   | manifest.json is not the JSON object expected    | never   |
 * | `ConfigurationError`     | the function's environment is incomplete         | never   |
 * | `UnknownTierError`       | Plan chose a tier the state machine's table lacks | never   |
 */
// Defined beside the input checks the Plan Lambdas and the CLI share.
export { InvalidInputError } from "../lib/input-checks.ts";

export class SourceNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SourceNotFoundError";
  }
}

export class SourceUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SourceUnavailableError";
  }
}

/**
 * A local run (ATLAS_LOCAL=1) cannot reach the source at all: its host name does not resolve or there is no route
 * to it, as when the laptop is offline. Retrying in a few seconds cannot fix that, so no retry policy lists it; the
 * fix is a local copy of the file as the source. On AWS the same network errors stay SourceUnavailableError (a
 * Lambda's DNS or network blip clears up).
 */
export class SourceOfflineError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SourceOfflineError";
  }
}

export class ManifestNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ManifestNotFoundError";
  }
}

export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigurationError";
  }
}

export class UnknownTierError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnknownTierError";
  }
}

/** The error names above, for workflow definitions that match on them. */
export const ERROR_NAMES = {
  invalidInput: "InvalidInputError",
  sourceNotFound: "SourceNotFoundError",
  sourceUnavailable: "SourceUnavailableError",
  sourceOffline: "SourceOfflineError",
  manifestNotFound: "ManifestNotFoundError",
  invalidManifest: "InvalidManifestError",
  configuration: "ConfigurationError",
  unknownTier: "UnknownTierError",
} as const;

export class InvalidManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidManifestError";
  }
}
