import * as iam from "aws-cdk-lib/aws-iam";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sns from "aws-cdk-lib/aws-sns";
import { Function as SstFunction } from "sst/constructs";
import { Construct } from "constructs";
import { NAMESPACE } from "../../functions/metrics.ts";
import { HELPER_LAMBDA_MEMORY_MIB } from "../../workflows/tiers.ts";
import type { BucketAccess } from "../../workflows/types.ts";
import { grantBucketAccess } from "./bucket-grants.ts";

/**
 * One helper Lambda, `functions/<name>.ts`'s `handler`, as every helper of the stack runs: Node 24 on ARM64, a
 * minute at most, HELPER_LAMBDA_MEMORY_MIB (what run-records/cost.ts prices); its grants are its owner's to add.
 */
export function helperFunction(scope: Construct, name: string, environment: Record<string, string>): SstFunction {
  return new SstFunction(scope, name, {
    handler: `functions/${name}.handler`,
    description: `atlas-pipelines ${name}`,
    runtime: "nodejs24.x",
    architecture: "arm_64",
    timeout: "60 seconds",
    memorySize: `${HELPER_LAMBDA_MEMORY_MIB} MB`,
    environment,
  });
}

export interface HelperFunctionsProps {
  /** `functions/<name>.ts` files, each exporting `handler`. */
  names: string[];
  bucket: s3.IBucket;
  topic: sns.ITopic;
  allowedSourceHosts: string[];
  /** Per function: data bucket key patterns it reads (declared by the workflows' steps). */
  access?: Record<string, BucketAccess>;
}

/**
 * One Lambda per helper in `functions/`, each granted only what it calls: the bucket keys its steps declare
 * (Metrics reads the manifests), PutMetricData in our namespace for Metrics, Publish on the topic for Notify.
 */
export class HelperFunctions extends Construct {
  private readonly functions = new Map<string, SstFunction>();

  constructor(scope: Construct, id: string, props: HelperFunctionsProps) {
    super(scope, id);
    for (const name of props.names) {
      const fn = helperFunction(this, name, {
        ATLAS_BUCKET: props.bucket.bucketName,
        ATLAS_TOPIC_ARN: props.topic.topicArn,
        ATLAS_ALLOWED_SOURCE_HOSTS: props.allowedSourceHosts.join(","),
      });
      this.functions.set(name, fn);
      grantBucketAccess(fn, props.bucket, props.access?.[name] ?? {});
    }
    const metrics = this.functions.get("metrics");
    if (metrics) {
      metrics.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ["cloudwatch:PutMetricData"],
          // PutMetricData has no resource-level permissions; the namespace condition is the narrowest scope.
          resources: ["*"],
          conditions: { StringEquals: { "cloudwatch:namespace": NAMESPACE } },
        }),
      );
    }
    const notify = this.functions.get("notify");
    if (notify) props.topic.grantPublish(notify);
  }

  get(name: string): SstFunction {
    const fn = this.functions.get(name);
    if (!fn) throw new Error(`no helper function '${name}' (expected functions/${name}.ts)`);
    return fn;
  }
}
