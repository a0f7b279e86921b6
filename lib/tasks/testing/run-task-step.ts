import { spawn } from "node:child_process";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { PROJECT_ROOT } from "../../project-root.ts";
import { listObjects } from "../../s3-objects.ts";
import { taskInputKey, taskOutputPrefix } from "../task-types.ts";

/** Runs `node --import tsx containers/<image>/main.ts <step>` as a child process, as the local engine starts a task. */
export function runTaskStep(image: string, step: string, env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", `containers/${image}/main.ts`, step], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stderr }));
  });
}

export async function putTaskInput(s3: S3Client, bucket: string, taskId: string, name: string, body: Buffer | string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: taskInputKey(taskId, name), Body: body }));
}

export async function outputNames(s3: S3Client, bucket: string, taskId: string): Promise<string[]> {
  return (await listObjects(s3, `s3://${bucket}/${taskOutputPrefix(taskId)}`)).map((o) => o.name);
}

/** The `error: …` lines a step printed (a failing step prints exactly one). */
export const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("error:"));
