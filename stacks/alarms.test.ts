import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../lib/project-root.ts";
import { markdownAnchors } from "../lib/testing/markdown.ts";
import { readConfig } from "../workflows/config.ts";
import { ALARM_DESCRIPTION_MAX_CHARS, alarmDescription, RUNBOOK_PATH } from "./runbook.ts";
import { synthesizeOffline } from "./synth-offline.ts";

/**
 * Every alarm tells the operator where to look (stacks/runbook.ts): a direct console link (the region and the ARN
 * as CloudFormation tokens, filled in at deploy time) and its own section of docs/RUNBOOK.md, which must exist.
 */

type Part = string | { Ref: string } | { "Fn::GetAtt": [string, string] };
interface Alarm {
  id: string;
  description: Part[];
  properties: Record<string, unknown> & { Dimensions: { Name: string; Value: unknown }[] };
}

async function alarms(): Promise<Alarm[]> {
  const { template } = await synthesizeOffline("deploy", "test-deploy");
  return Object.entries(template.findResources("AWS::CloudWatch::Alarm")).map(([id, a]) => {
    const d = a.Properties.AlarmDescription as string | { "Fn::Join": ["", Part[]] };
    return { id, description: typeof d === "string" ? [d] : d["Fn::Join"][1], properties: a.Properties };
  });
}

/** The description with each token written as `{Ref:X}` / `{AWS::Region}`: what the tests match on. */
const shown = (parts: Part[]) =>
  parts.map((p) => (typeof p === "string" ? p : "Ref" in p ? (p.Ref === "AWS::Region" ? "{AWS::Region}" : `{Ref:${p.Ref}}`) : `{GetAtt:${p["Fn::GetAtt"].join(".")}}`)).join("");

/** The anchors GitHub gives the runbook's headings. */
async function runbookAnchors(): Promise<Set<string>> {
  return markdownAnchors(await readFile(path.join(PROJECT_ROOT, RUNBOOK_PATH), "utf8"));
}

describe("alarms: what they mean, where to look, what the runbook says", () => {
  it("GIVEN the synthesized stack WHEN each alarm's description is read THEN it links to its section of docs/RUNBOOK.md, and that section exists", async () => {
    const all = await alarms();
    const anchors = await runbookAnchors();
    expect(all.length).toBeGreaterThanOrEqual(12);
    for (const a of all) {
      const text = shown(a.description);
      const anchor = new RegExp(`\\nRunbook: ${RUNBOOK_PATH.replace(".", "\\.")}#([a-z0-9-]+)$`).exec(text)?.[1];
      expect(anchor, `${a.id}: ${text}`).toBeDefined();
      expect(anchors, `${a.id} names #${anchor}, which no heading of ${RUNBOOK_PATH} has`).toContain(anchor);
    }
    // One section per alarm: no two alarms share one.
    const named = all.map((a) => /#([a-z0-9-]+)$/.exec(shown(a.description))![1]);
    expect(new Set(named).size).toBe(named.length);
  });

  it("GIVEN a workflow's alarms WHEN synthesized THEN each links to its own machine's console page and failed executions, with the region and the machine's ARN as tokens", async () => {
    const machineAlarms = (await alarms()).filter((a) => !a.id.startsWith("TaskPlatform"));
    // The workflows' 11, and ExecutionsFailed and ExecutionsTimedOut of each task machine (tasks-gpu, tasks-cpu).
    expect(machineAlarms).toHaveLength(15);
    for (const a of machineAlarms) {
      const text = shown(a.description);
      // The machine this workflow's alarms belong to: the one its AWS/States alarms watch.
      const machine = /^([a-z]+)(?:ExecutionsFailed|ExecutionsTimedOut|IngestionErrors)/.exec(a.id)![1];
      const ref = `{Ref:${machine}StateMachine`;
      expect(text, a.id).toMatch(
        new RegExp(`https://\\{AWS::Region\\}\\.console\\.aws\\.amazon\\.com/states/home\\?region=\\{AWS::Region\\}#/statemachines/view/${escape(ref)}[0-9A-F]{8}\\}\\n`),
      );
      expect(text, a.id).toMatch(new RegExp(`aws stepfunctions list-executions --state-machine-arn ${escape(ref)}[0-9A-F]{8}\\} --status-filter FAILED --region \\{AWS::Region\\}`));
      // A task is not rerun: its record says why it failed, and the caller submits it again.
      expect(text, a.id).toContain(machine.startsWith("tasks") ? "npm start -- tasks status <taskId> --aws" : "npm start -- rerun <execution ARN> --aws");
      if (a.properties.Namespace === "AWS/States") {
        // The link is to the machine the alarm watches.
        const watched = (a.properties.Dimensions.find((d) => d.Name === "StateMachineArn")!.Value as { Ref: string }).Ref;
        expect(text, a.id).toContain(`#/statemachines/view/{Ref:${watched}}`);
      }
    }
  });

  it("GIVEN the GPU capacity's idle alarm WHEN synthesized THEN it links to the Auto Scaling group in the EC2 console", async () => {
    const [gpu] = (await alarms()).filter((a) => a.id.startsWith("TaskPlatformGpuIdleGpuAlarm"));
    expect(shown(gpu.description)).toMatch(
      /https:\/\/\{AWS::Region\}\.console\.aws\.amazon\.com\/ec2\/home\?region=\{AWS::Region\}#AutoScalingGroupDetails:id=\{Ref:TaskPlatformGpuGroupASG[0-9A-F]+\}\n/,
    );
  });

  it("GIVEN the longest values the tokens can take WHEN every description is filled in THEN each fits CloudWatch's 1024 characters", async () => {
    // A state machine's name is at most 80 characters; the longest region name today has 14; an Auto Scaling group
    // name generated by CloudFormation from this stack's ids stays far below 128; a runbook URL of 150 characters.
    const region = "ap-southeast-4";
    const machineArn = `arn:aws:states:${region}:123456789012:stateMachine:${"m".repeat(80)}`;
    const runbookUrl = `https://git.example.com/${"o".repeat(100)}/blob/main/docs/RUNBOOK.md`.slice(0, 150);
    for (const a of await alarms()) {
      const filled = a.description
        .map((p) => (typeof p === "string" ? p : "Ref" in p && p.Ref === "AWS::Region" ? region : "Ref" in p && p.Ref.includes("StateMachine") ? machineArn : "g".repeat(128)))
        .join("")
        .replace(`Runbook: ${RUNBOOK_PATH}`, `Runbook: ${runbookUrl}`);
      expect(filled.length, `${a.id}:\n${filled}`).toBeLessThanOrEqual(ALARM_DESCRIPTION_MAX_CHARS);
    }
  });

  it("GIVEN ATLAS_RUNBOOK_URL WHEN read THEN alarms link to that page's sections; a URL with a #section or not https is refused", () => {
    const runbookUrl = readConfig({ ATLAS_RUNBOOK_URL: "https://git.example.com/team/atlas-pipelines/blob/main/docs/RUNBOOK.md" }).runbookUrl;
    expect(alarmDescription({ what: "x", links: [], anchor: "weather-executionsfailed", runbookUrl })).toBe(
      "x\n\nRunbook: https://git.example.com/team/atlas-pipelines/blob/main/docs/RUNBOOK.md#weather-executionsfailed",
    );
    expect(readConfig({}).runbookUrl).toBeUndefined();
    expect(() => readConfig({ ATLAS_RUNBOOK_URL: "https://x.example/RUNBOOK.md#top" })).toThrow(/ATLAS_RUNBOOK_URL must be the https:\/\/ address of docs\/RUNBOOK\.md, without a #section/);
    expect(() => readConfig({ ATLAS_RUNBOOK_URL: "docs/RUNBOOK.md" })).toThrow(/ATLAS_RUNBOOK_URL must be/);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
