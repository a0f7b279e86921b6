import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { runIdProblem } from "../../lib/run-id.ts";

/**
 * One grader run's reach: it reads only its own exam's folder (`TENANT_URI`, where its config sits) and writes only
 * its own run prefix (`OUTPUT_URI`, inside the exam's folder). Enforced twice:
 *  - on AWS by IAM, whatever this code does: the task role has no bucket access; before each attempt the state
 *    machine starts a session of the grader's run role tagged with the run's exam and run id, and hands the container
 *    only that session's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN). The run role's
 *    policy reaches `exams/${aws:PrincipalTag/tenant}/…` only (workflows/run-session.ts, stacks/constructs/ScopedRunRole.ts;
 *    the policy evaluation in stacks/security.test.ts shows it). `requireSession` refuses to run without them;
 *  - by the checks below, against every URI the run is given (locally, ATLAS_LOCAL=1, there is no IAM: only these).
 */
export interface RunScope {
  /** The exam's folder: `s3://bucket/jobs/grader/exams/<exam>/` (a `file://…/` directory locally). */
  tenantUri: string;
  /** The run's output prefix: `<tenantUri>runs/<runId>/`. */
  outputUri: string;
  runId: string;
}

/** Exit 77 when `uri` is outside the exam: the config pointing at another exam is an access violation, not a typo. */
export function requireInsideExam(uri: string, scope: RunScope, what: string): void {
  if (!isInside(uri, scope.tenantUri)) {
    throw new StepError(`${what} ${uri} is outside this run's exam ${scope.tenantUri}: a grader run reads only its own exam's objects`, EXIT.NO_PERMISSION);
  }
}

function isInside(uri: string, prefix: string): boolean {
  // `..` segments would let a string start with the prefix and still leave it (file:// URLs are resolved).
  return uri.startsWith(prefix) && !uri.slice(prefix.length).split("/").some((s) => s === ".." || s === ".");
}

/** Checks the scope the state machine passed (Plan computed it) before anything is read. Exit 64 when malformed. */
export function checkScope(scope: RunScope, configUri: string): void {
  const problem = runIdProblem(scope.runId, "RUN_ID");
  if (problem) throw new StepError(problem, EXIT.USAGE);
  if (scope.tenantUri.startsWith("s3://")) {
    const exam = /^s3:\/\/[^/]+\/jobs\/grader\/exams\/([^/]+)\/$/.exec(scope.tenantUri)?.[1];
    if (!exam || runIdProblem(exam)) throw new StepError(`TENANT_URI ${scope.tenantUri} is not an exam folder: s3://BUCKET/jobs/grader/exams/<exam>/`, EXIT.USAGE);
  }
  // On S3 the run prefix is inside the exam's folder; locally the exam is a directory and the run prefix in the
  // embedded bucket is named after it.
  const ownRun = scope.tenantUri.startsWith("s3://")
    ? scope.outputUri === `${scope.tenantUri}runs/${scope.runId}/`
    : /^s3:\/\/[^/]+\/jobs\/grader\/exams\/[^/]+\/runs\/[^/]+\/$/.test(scope.outputUri) && scope.outputUri.endsWith(`/runs/${scope.runId}/`);
  if (!ownRun) throw new StepError(`OUTPUT_URI ${scope.outputUri} is not this run's prefix <exam>/runs/${scope.runId}/`, EXIT.USAGE);
  requireInsideExam(configUri, scope, "CONFIG_URI");
}

/**
 * On AWS (not ATLAS_LOCAL=1): the session the state machine started for this attempt must be in the environment.
 * Without it the S3 client would fall back to the task role, which reaches nothing (AccessDenied on the first read);
 * this says why in one line instead.
 */
export function requireSession(env: Record<string, string | undefined>): void {
  if (env.ATLAS_LOCAL === "1") return;
  const missing = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"].filter((name) => !env[name]?.trim());
  if (missing.length) {
    throw new StepError(`${missing.join(", ")} not set: the grader reaches S3 only through the session its state machine starts for the run (containers/grader/README.md)`, EXIT.USAGE);
  }
}
