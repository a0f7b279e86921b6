/**
 * Alarm descriptions that tell an operator where to look, after construct-hub's: what the alarm means, direct links
 * to what to look at (console pages, with the region and ARNs as CloudFormation tokens), and the alarm's own
 * section of the runbook, `docs/RUNBOOK.md` (what it means, what to check, how to re-run).
 */

/** The runbook, in this repository. */
export const RUNBOOK_PATH = "docs/RUNBOOK.md";

/**
 * CloudWatch's limit on an alarm's description (PutMetricAlarm: AlarmDescription, 0 to 1024 characters). The links
 * hold ARNs known only at deploy time: stacks/alarms.test.ts checks the longest they can get.
 */
export const ALARM_DESCRIPTION_MAX_CHARS = 1024;

/**
 * The anchor of an alarm's runbook section, whose heading is `<scope>: <alarm>` ("weather: ExecutionsFailed"):
 * GitHub's slug of that heading (lower case, the colon dropped, spaces as dashes), `weather-executionsfailed`.
 * stacks/alarms.test.ts slugs the runbook's headings with github-slugger and checks every alarm's anchor is there.
 */
export function runbookAnchor(scope: string, alarm: string): string {
  return `${scope}: ${alarm}`.toLowerCase().replace(/:/g, "").replace(/ /g, "-");
}

export interface AlarmText {
  /** What the alarm means, in a sentence. */
  what: string;
  /** What to open first: label and URL (or command). */
  links: [label: string, target: string][];
  /** The alarm's runbook section (`runbookAnchor`). */
  anchor: string;
  /**
   * Where the runbook is read (ATLAS_RUNBOOK_URL, e.g. the file's page in your Git host); without it, the path in the
   * repository.
   */
  runbookUrl?: string;
}

/** The description: what it means, one line per link, then the runbook section. Lines, as an e-mail shows them. */
export function alarmDescription(text: AlarmText): string {
  const runbook = `${text.runbookUrl ?? RUNBOOK_PATH}#${text.anchor}`;
  return [text.what, "", ...text.links.map(([label, target]) => `${label}: ${target}`), `Runbook: ${runbook}`].join("\n");
}
