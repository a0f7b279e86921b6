import type { HistoryEventRecord } from "../run-model/history.ts";

/**
 * Credentials out of an execution history, before it becomes a run record. A scoped step's session
 * (workflows/run-session.ts) passes through the execution: `sts:assumeRole`'s output, `$.runSession` in every later
 * state's input and output (and the execution's), the task's RunTask overrides (`AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), and, as ECS echoes the overrides, a failed task's Cause. A record
 * is a file anyone with the run folder reads (`npm run runs`, the console, `--json`), kept long after the session
 * ends, so it keeps none of them: the values of the credential fields and of every `AWS_*` environment entry become
 * REDACTED, and so does any other text in which such a value appears. Everything else stays byte for byte.
 */

/** What a credential's value reads as in a record. */
export const REDACTED = "[redacted]";

/** Fields of STS's Credentials (and of `$.runSession`, which the state machine selects from them). */
const CREDENTIAL_FIELDS: ReadonlySet<string> = new Set(["AccessKeyId", "SecretAccessKey", "SessionToken"]);

/** The SDK's credential variables, where an environment is written as an object. */
const CREDENTIAL_VARIABLES: ReadonlySet<string> = new Set(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]);

/** An entry of a RunTask container override's `Environment`, `{ Name, Value }`, whose value is redacted. */
const isAwsVariable = (name: unknown): boolean => typeof name === "string" && name.startsWith("AWS_");

/**
 * A found value is also replaced where it appears in other text (a log line in a Cause, say) when it is at least
 * this long: real access key ids are 20 characters, secrets 40 and tokens hundreds, while a short local stand-in
 * (the embedded S3 server's key pair) would match unrelated text.
 */
const MIN_SECRET_LENGTH = 16;

/** Only text naming one of these can hold a credential field or variable: the rest is not parsed at all. */
const MARKERS = [...CREDENTIAL_FIELDS, "AWS_"];

/** The history with its credentials replaced (the events given are not changed). */
export function redactHistory(events: readonly HistoryEventRecord[]): HistoryEventRecord[] {
  const secrets = new Set<string>();
  for (const event of events) collect(event, secrets);
  const long = [...secrets].filter((s) => s.length >= MIN_SECRET_LENGTH);
  return events.map((event) => redact(event, long) as HistoryEventRecord);
}

function collect(value: unknown, secrets: Set<string>): void {
  if (typeof value === "string") {
    const json = embeddedJson(value);
    if (json !== undefined) collect(json, secrets);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) collect(item, secrets);
    return;
  }
  if (!value || typeof value !== "object") return;
  const o = value as Record<string, unknown>;
  // Only credentials are looked for in other text: an `AWS_*` entry that is none (a region, an endpoint) is
  // redacted where it stands, but its value may well appear elsewhere for other reasons.
  if (typeof o.Name === "string" && CREDENTIAL_VARIABLES.has(o.Name) && typeof o.Value === "string") secrets.add(o.Value);
  for (const [key, v] of Object.entries(o)) {
    if ((CREDENTIAL_FIELDS.has(key) || CREDENTIAL_VARIABLES.has(key)) && typeof v === "string") secrets.add(v);
    else collect(v, secrets);
  }
}

function redact(value: unknown, secrets: string[]): unknown {
  if (typeof value === "string") {
    const json = embeddedJson(value);
    if (json !== undefined) {
      const redacted = redact(json, secrets);
      // Unchanged text stays as it was written (Step Functions' compact JSON, which Choice rules match on).
      return redacted === json ? value : JSON.stringify(redacted);
    }
    return secrets.some((secret) => value.includes(secret)) ? secrets.reduce((text, secret) => text.split(secret).join(REDACTED), value) : value;
  }
  if (Array.isArray(value)) {
    const items = value.map((item) => redact(item, secrets));
    return items.every((item, i) => item === value[i]) ? value : items;
  }
  if (!value || typeof value !== "object") return value;
  const o = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  let changed = false;
  for (const [key, v] of Object.entries(o)) {
    const secret = CREDENTIAL_FIELDS.has(key) || CREDENTIAL_VARIABLES.has(key) || (key === "Value" && isAwsVariable(o.Name));
    out[key] = secret && typeof v === "string" ? REDACTED : redact(v, secrets);
    changed ||= out[key] !== v;
  }
  // Unchanged parts are the same objects: a history without credentials comes back as it was given.
  return changed ? out : value;
}

/** The object or array a JSON text holds, when the text might hold a credential; else undefined. */
function embeddedJson(text: string): unknown {
  const start = text.trimStart()[0];
  if ((start !== "{" && start !== "[") || !MARKERS.some((m) => text.includes(m))) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
