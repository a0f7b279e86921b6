import { containerJob } from "./container-job.ts";

/**
 * The two container jobs. Each is one `containerJob(...)`: its container lives in `containers/<name>/`.
 */

/**
 * Grades submissions against an answer key. Isolated: it may run code or data others submitted, so each run reads
 * only its own exam (`jobs/grader/exams/<exam>/`) and writes only its own run prefix, enforced by IAM through a
 * session the state machine starts for each attempt (workflows/run-session.ts, containers/grader/README.md), and its
 * tasks get a security group with no inbound and HTTPS-only outbound.
 */
export const grader = containerJob({
  name: "grader",
  description: "Grades submissions against an answer key (isolated: own exam only, HTTPS-only egress, non-root).",
  command: ["grade"],
  tenants: "exams",
  tier: "small",
  timeoutMinutes: 15,
  attempts: 3,
  network: "https-egress-only",
});

/** Fits US corn grain yield against yearly weather aggregates of a published weather run (8 vCPU, 32 GB). */
export const training = containerJob({
  name: "training",
  description: "Fits US corn grain yield against yearly weather (OLS) and writes model.json.",
  command: ["train"],
  tier: "xlarge",
  timeoutMinutes: 60,
  attempts: 2,
  reads: ["weather/*"],
});
