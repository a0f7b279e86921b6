import { Duration, Lazy } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { RUN_SESSION_SECONDS, RUN_SESSION_TAG_KEYS } from "../../workflows/run-session.ts";
import type { ScopedSession } from "../../workflows/types.ts";

export interface ScopedRunRoleProps {
  container: string;
  bucket: s3.IBucket;
  session: ScopedSession;
}

/**
 * The run role of a container whose steps run in a scoped session (workflows/run-session.ts says why the state
 * machine, not the task, starts it). Everything that keeps one run out of another's objects is in this role, so it
 * holds whatever the task's code does:
 *  - its policy names no tenant: every resource is `<tenants>/${aws:PrincipalTag/tenant}/…`, so a session reaches
 *    only the tenant (and run) its tags name, and a session without the tags matches no statement at all (IAM leaves
 *    a statement whose variable it cannot resolve out);
 *  - its trust policy takes only the roles given to `trust` (the state machines that run the step, by
 *    `aws:PrincipalArn`), for `sts:AssumeRole` with `sts:TagSession`, and only when the call carries both tags,
 *    non-empty, and no other tag (`aws:RequestTag/<key>`, `aws:TagKeys`). The task's role is not trusted, and neither
 *    is a session of the run role itself (its principal ARN is the run role's).
 * The task role of such a container is given nothing (stacks/constructs/ContainerTasks.ts).
 */
export class ScopedRunRole extends Construct {
  readonly role: iam.Role;
  /** The roles that may start sessions (`trust`): known only once the state machines exist, so read at synthesis. */
  private readonly callers: iam.IRole[] = [];

  constructor(scope: Construct, id: string, props: ScopedRunRoleProps) {
    super(scope, id);
    const { tenantsPrefix } = props.session;
    const tenant = `${tenantsPrefix}\${aws:PrincipalTag/${RUN_SESSION_TAG_KEYS.tenant}}/`;
    const run = `${tenant}runs/\${aws:PrincipalTag/${RUN_SESSION_TAG_KEYS.runId}}/`;
    const keys = Object.values(RUN_SESSION_TAG_KEYS);
    const callerArns = Lazy.list({
      produce: () => {
        if (!this.callers.length) throw new Error(`${props.container}: no state machine starts sessions of its run role (call trust())`);
        return this.callers.map((r) => r.roleArn);
      },
    });
    this.role = new iam.Role(this, "Role", {
      // Principals of this account, narrowed to the callers' roles by aws:PrincipalArn (their identity policies must
      // allow the call too), for sts:AssumeRole with sts:TagSession, and only with both tags, non-empty, and no other
      // (a key missing from the request does not match StringLike, so an untagged call is refused).
      assumedBy: new iam.AccountRootPrincipal()
        .withConditions({
          ArnEquals: { "aws:PrincipalArn": callerArns },
          StringLike: Object.fromEntries(keys.map((k) => [`aws:RequestTag/${k}`, "?*"])),
          "ForAllValues:StringEquals": { "aws:TagKeys": keys },
        })
        .withSessionTags(),
      description: `Assumed by the state machine for each attempt of a ${props.container} run, tagged with its tenant and run id: reaches that tenant's folder and run only`,
      maxSessionDuration: Duration.seconds(RUN_SESSION_SECONDS),
    });
    const objects = (pattern: string) => props.bucket.arnForObjects(pattern);
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: "ReadOwnTenant", actions: ["s3:GetObject"], resources: [objects(`${tenant}*`)] }));
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "WriteOwnRun",
        actions: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        resources: [objects(`${run}*`)],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "ListOwnTenant",
        actions: ["s3:ListBucket"],
        resources: [props.bucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": [`${tenant}*`] } },
      }),
    );
  }

  /** Lets `caller` (a state machine's role) start sessions, each tagged with a tenant and a run id. */
  trust(caller: iam.IRole): void {
    this.callers.push(caller);
  }
}
