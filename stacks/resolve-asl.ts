import { CfnResource, Stack } from "aws-cdk-lib";
import { CfnStateMachine } from "aws-cdk-lib/aws-stepfunctions";
import type { IConstruct } from "constructs";
import { synthesizeOffline } from "./synth-offline.ts";

/** Stand-ins for the values CloudFormation fills in at deploy time. */
export const PLACEHOLDER = { partition: "aws", region: "us-east-1", account: "123456789012" } as const;

/**
 * Plain ASL for every state machine of the app: the synthesized `DefinitionString` with each CloudFormation
 * token replaced by a readable placeholder ARN. The ARNs name what they point at, so the local engine can bind
 * `function:plan` to functions/plan.ts and `task-definition/ski-atlas-small:1` to containers/ski-atlas on the
 * small tier, without keeping a second copy of any workflow.
 */
export async function resolvedDefinitions(): Promise<Record<string, AslDefinition>> {
  const { stack } = await synthesizeOffline();
  const placeholders = placeholderArns(stack);
  const out: Record<string, AslDefinition> = {};
  for (const node of stack.node.findAll()) {
    if (!(node instanceof CfnStateMachine)) continue;
    const workflow = workflowNameOf(node);
    const definition = stack.resolve(node.definitionString) as unknown;
    out[workflow] = JSON.parse(resolveTokens(definition, placeholders)) as AslDefinition;
  }
  return out;
}

/**
 * The properties of every resource of a CloudFormation type in the app (e.g. `AWS::Pipes::Pipe`), by the id of the
 * construct that owns it (`gpu`), tokens resolved to the same placeholders as the definitions': a queue's ARN ends
 * in its construct's id (`arn:aws:sqs:…:gpu`), a state machine's in its workflow's name. The offline task platform
 * runs its pipes from these (local/task-worker.ts).
 */
export async function resolvedResources(type: string): Promise<Record<string, Record<string, unknown>>> {
  const { stack } = await synthesizeOffline();
  const placeholders = placeholderArns(stack);
  const out: Record<string, Record<string, unknown>> = {};
  for (const node of stack.node.findAll()) {
    if (!CfnResource.isCfnResource(node) || (node as CfnResource).cfnResourceType !== type) continue;
    const properties = stack.resolve((node as unknown as { _toCloudFormation(): { Resources: Record<string, { Properties?: unknown }> } })._toCloudFormation());
    const [resource] = Object.values((properties as { Resources: Record<string, { Properties?: unknown }> }).Resources);
    out[ownerName(node)] = resolveDeep(resource?.Properties ?? {}, placeholders) as Record<string, unknown>;
  }
  return out;
}

/** `resolveTokens` for every token inside a value: objects and arrays are walked, each token rendered. */
function resolveDeep(value: unknown, placeholders: Map<string, { ref: string; attrs: Record<string, string> }>): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveDeep(v, placeholders));
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if ("Ref" in o || "Fn::GetAtt" in o || "Fn::Join" in o) return resolveTokens(o, placeholders);
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolveDeep(v, placeholders)]));
  }
  return value;
}

export async function resolvedDefinition(name: string): Promise<AslDefinition> {
  const all = await resolvedDefinitions();
  const found = all[name];
  if (!found) throw new Error(`unknown state machine '${name}' (expected one of ${Object.keys(all).join(", ")})`);
  return found;
}

export interface AslDefinition {
  StartAt: string;
  States: Record<string, Record<string, unknown>>;
  TimeoutSeconds?: number;
  Comment?: string;
}

/** The WorkflowMachine construct is named after its workflow; the CfnStateMachine sits two levels below it. */
function workflowNameOf(cfn: CfnStateMachine): string {
  return cfn.node.scope!.node.scope!.node.id;
}

function placeholderArns(stack: Stack): Map<string, { ref: string; attrs: Record<string, string> }> {
  const { partition, region, account } = PLACEHOLDER;
  const map = new Map<string, { ref: string; attrs: Record<string, string> }>();
  for (const node of stack.node.findAll()) {
    if (!CfnResource.isCfnResource(node)) continue;
    const logicalId = stack.resolve((node as CfnResource).logicalId) as string;
    const owner = ownerName(node);
    const type = (node as CfnResource).cfnResourceType;
    let ref = `${owner}-placeholder`;
    let arn = `arn:${partition}:cloudformation:${region}:${account}:placeholder/${owner}`;
    switch (type) {
      case "AWS::Lambda::Function":
        ref = owner;
        arn = `arn:${partition}:lambda:${region}:${account}:function:${owner}`;
        break;
      case "AWS::ECS::TaskDefinition":
        ref = arn = `arn:${partition}:ecs:${region}:${account}:task-definition/${owner}:1`;
        break;
      case "AWS::ECS::Cluster":
        ref = owner;
        arn = `arn:${partition}:ecs:${region}:${account}:cluster/${owner}`;
        break;
      case "AWS::SQS::Queue":
        ref = `https://sqs.${region}.amazonaws.com/${account}/${owner}`;
        arn = `arn:${partition}:sqs:${region}:${account}:${owner}`;
        break;
      case "AWS::StepFunctions::StateMachine":
        ref = arn = `arn:${partition}:states:${region}:${account}:stateMachine:${workflowNameOf(node as CfnStateMachine)}`;
        break;
      case "AWS::EC2::Subnet":
        ref = `subnet-${owner}`;
        break;
      case "AWS::EC2::SecurityGroup":
        ref = `sg-${owner}`;
        break;
    }
    map.set(logicalId, { ref, attrs: { Arn: arn, GroupId: ref } });
  }
  return map;
}

/** The construct a CloudFormation resource belongs to: `Functions/plan/Resource` → `plan`. */
function ownerName(node: IConstruct): string {
  return node.node.id === "Resource" && node.node.scope ? node.node.scope.node.id : node.node.id;
}

function resolveTokens(value: unknown, placeholders: Map<string, { ref: string; attrs: Record<string, string> }>): string {
  const { partition, region, account } = PLACEHOLDER;
  const pseudo: Record<string, string> = {
    "AWS::Partition": partition,
    "AWS::Region": region,
    "AWS::AccountId": account,
    "AWS::URLSuffix": "amazonaws.com",
  };
  const render = (v: unknown): string => {
    if (typeof v === "string") return v;
    if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if ("Fn::Join" in o) {
        const [sep, parts] = o["Fn::Join"] as [string, unknown[]];
        return parts.map(render).join(sep);
      }
      if ("Ref" in o) {
        const name = o.Ref as string;
        if (pseudo[name]) return pseudo[name];
        const found = placeholders.get(name);
        if (!found) throw new Error(`cannot resolve Ref ${name}`);
        return found.ref;
      }
      if ("Fn::GetAtt" in o) {
        const [id, attr] = o["Fn::GetAtt"] as [string, string];
        const found = placeholders.get(id);
        if (!found || !found.attrs[attr]) throw new Error(`cannot resolve Fn::GetAtt ${id}.${attr}`);
        return found.attrs[attr];
      }
    }
    throw new Error(`unexpected token in definition: ${JSON.stringify(v).slice(0, 200)}`);
  };
  return render(value);
}
