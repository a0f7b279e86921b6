/**
 * Errors the Lambda helpers throw on purpose. Each sets `name` explicitly (bundlers may rename classes): the
 * Lambda runtime reports `name` as the `errorType`, which is what Step Functions Retry and Catch match on.
 *
 * | name                     | when                                             | retried |
 * |--------------------------|--------------------------------------------------|---------|
 * | `InvalidInputError`      | bad execution input (region, period, source)     | never   |
 * | `SourceNotFoundError`    | the source answers 404/410 or another final 4xx  | never   |
 * | `SourceUnavailableError` | network error, timeout, 5xx, 408, 429            | yes     |
 * | `ManifestNotFoundError`  | a SUCCEEDED run has no manifest.json to read     | never   |
 * | `InvalidManifestError`   | manifest.json is not the JSON object expected    | never   |
 * | `ConfigurationError`     | the function's environment is incomplete         | never   |
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

/** The error names above, for workflow definitions that match on them. */
export const ERROR_NAMES = {
  invalidInput: "InvalidInputError",
  sourceNotFound: "SourceNotFoundError",
  sourceUnavailable: "SourceUnavailableError",
  manifestNotFound: "ManifestNotFoundError",
  invalidManifest: "InvalidManifestError",
  configuration: "ConfigurationError",
} as const;

export class InvalidManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidManifestError";
  }
}
