/**
 * Run ids and tenant names (a grader's exams) end up in S3 keys, IAM session policies and execution names, so they
 * are checked, never rewritten: `../../x` silently becoming `x` could overwrite run `x` (issue 10). Letters, digits,
 * `.`, `_` and `-`, starting with a letter or digit (so never `.` or `..`), at most 80 characters like an
 * execution name; no `*` or `?`, which IAM would read as wildcards.
 */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

/** Why `value` is not a usable run id (or tenant name), in one line; undefined when it is one. */
export function runIdProblem(value: unknown, what = "run id"): string | undefined {
  if (typeof value === "string" && RUN_ID_PATTERN.test(value)) return undefined;
  const shown = typeof value === "string" ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : String(value);
  return `invalid ${what} ${shown}: use 1-80 letters, digits, '.', '_' or '-', starting with a letter or digit`;
}
