/**
 * A small IAM policy evaluator over a synthesized CloudFormation template, for tests a reviewer can follow: it reads
 * the template's own policy documents (roles' identity policies, trust policies, bucket policies) and answers
 * concrete requests ("a session of role R tagged tenant=A asks s3:GetObject on key K") with Allow or Deny and why.
 *
 * It follows AWS's documented rules for one account with no SCPs, permission boundaries or session policies
 * (IAM User Guide, "Policy evaluation logic"):
 *  1. an explicit Deny in any policy that applies wins;
 *  2. else an Allow in the principal's identity policies, or in the resource's policy naming the principal, allows;
 *     a resource policy naming the account (`…:root`) only delegates to the identity policies;
 *  3. else the request is implicitly denied.
 * For sts:AssumeRole (and sts:TagSession) the role's trust policy must allow in every case (it is the resource
 * policy of a role, and a role is assumable only by whom it trusts), plus rule 2's identity Allow unless the trust
 * names the caller's role itself. Policy variables (`${aws:PrincipalTag/tenant}`) are replaced from the request; a
 * statement with a variable the request has no value for is left out ("IAM policy elements: Variables and tags":
 * "If AWS cannot resolve a variable this might cause the entire statement to be invalid").
 *
 * Hand-written, on purpose small: no npm package evaluates IAM policies offline, and a test of isolation is only as
 * good as a reader's trust in its evaluator. Anything it does not model (an unknown condition operator, a managed
 * policy it has not been told the content of, NotAction/NotResource/NotPrincipal) throws instead of guessing.
 */

export type Decision = { allowed: boolean; why: string };

export interface Session {
  /** The role's logical id in the template. */
  role: string;
  /** Session tags (aws:PrincipalTag/<key>). */
  tags?: Record<string, string>;
}

export interface Request {
  principal: Session;
  action: string;
  /** The resource's ARN. */
  resource: string;
  /** Request context keys besides the principal's (s3:prefix, aws:RequestTag/…, aws:TagKeys, aws:SecureTransport). */
  context?: Record<string, string | string[]>;
}

interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action?: string | string[];
  Resource?: string | string[];
  Principal?: "*" | Record<string, string | string[]>;
  Condition?: Record<string, Record<string, string | string[]>>;
  [other: string]: unknown;
}

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

export const ACCOUNT = "123456789012";
export const PARTITION = "aws";

/**
 * The AWS managed policies the template attaches, with their content: the evaluator refuses any other. This one
 * (Lambda's basic execution role) writes the function's logs and nothing else.
 */
const MANAGED_POLICIES: Record<string, Statement[]> = {
  [`arn:${PARTITION}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole`]: [
    { Effect: "Allow", Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], Resource: "*" },
  ],
};

export class IamEvaluator {
  constructor(private readonly resources: Resources) {}

  /** The ARN a role's session is seen as (aws:PrincipalArn is the role's ARN). */
  roleArn(role: string): string {
    return `arn:${PARTITION}:iam::${ACCOUNT}:role/${role}`;
  }

  /** The ARN of an object in a bucket of the template. */
  objectArn(bucket: string, key: string): string {
    return `arn:${PARTITION}:s3:::${bucket}/${key}`;
  }

  bucketArn(bucket: string): string {
    return `arn:${PARTITION}:s3:::${bucket}`;
  }

  roles(): string[] {
    return Object.entries(this.resources)
      .filter(([, r]) => r.Type === "AWS::IAM::Role")
      .map(([id]) => id);
  }

  /** Decides one request, as AWS would (see the module's comment). */
  evaluate(request: Request): Decision {
    const context = this.contextOf(request);
    const identity = this.identityStatements(request.principal.role);
    const resourcePolicy = this.resourceStatements(request.resource);
    const applies = (s: Statement, asResource: boolean) => this.matches(s, request, context, asResource);

    const denied = [...identity.filter((s) => s.Effect === "Deny" && applies(s, false)), ...resourcePolicy.filter((s) => s.Effect === "Deny" && applies(s, true))];
    if (denied.length) return { allowed: false, why: `explicit Deny (${describe(denied[0])})` };

    const identityAllow = identity.find((s) => s.Effect === "Allow" && applies(s, false));
    const resourceAllow = resourcePolicy.find((s) => s.Effect === "Allow" && applies(s, true));
    const namesCaller = resourceAllow !== undefined && this.namesRole(resourceAllow, request.principal.role);

    if (this.isRoleArn(request.resource) && /^sts:(AssumeRole|TagSession)$/i.test(request.action)) {
      if (!resourceAllow) return { allowed: false, why: "the role's trust policy does not allow it" };
      if (!namesCaller && !identityAllow) return { allowed: false, why: "the trust policy delegates to the account, and the caller's identity policies do not allow it" };
      return { allowed: true, why: `trust policy (${describe(resourceAllow)})${identityAllow ? ` and identity policy (${describe(identityAllow)})` : ""}` };
    }
    if (identityAllow) return { allowed: true, why: `identity policy (${describe(identityAllow)})` };
    if (resourceAllow && namesCaller) return { allowed: true, why: `resource policy (${describe(resourceAllow)})` };
    return { allowed: false, why: "no statement allows it (implicit deny)" };
  }

  /**
   * `sts:AssumeRole` (with `sts:TagSession` when tags are passed) by `caller` on `role`: the session it would get, or
   * the reason it is refused.
   */
  assumeRole(caller: Session, role: string, tags: Record<string, string> = {}): { session?: Session; why: string } {
    const keys = Object.keys(tags);
    const context: Record<string, string | string[]> = Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v]));
    if (keys.length) context["aws:TagKeys"] = keys;
    const target = this.roleArn(role);
    const assume = this.evaluate({ principal: caller, action: "sts:AssumeRole", resource: target, context });
    if (!assume.allowed) return { why: `sts:AssumeRole: ${assume.why}` };
    if (keys.length) {
      const tag = this.evaluate({ principal: caller, action: "sts:TagSession", resource: target, context });
      if (!tag.allowed) return { why: `sts:TagSession: ${tag.why}` };
    }
    return { session: { role, tags }, why: assume.why };
  }

  // ---- the policies that apply ----

  private identityStatements(role: string): Statement[] {
    const r = this.resources[role];
    if (r?.Type !== "AWS::IAM::Role") throw new Error(`${role} is not a role of the template`);
    const attached = Object.values(this.resources)
      .filter((p) => p.Type === "AWS::IAM::Policy" && (p.Properties.Roles as { Ref: string }[]).some((x) => x.Ref === role))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    const inline = ((r.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]).flatMap((p) => p.PolicyDocument.Statement);
    const managed = ((r.Properties.ManagedPolicyArns ?? []) as unknown[]).flatMap((arn) => {
      const known = MANAGED_POLICIES[String(this.resolve(arn))];
      if (!known) throw new Error(`${role}: managed policy ${JSON.stringify(this.resolve(arn))} is not modelled`);
      return known;
    });
    return [...attached, ...inline, ...managed].map((s) => this.resolve(s) as Statement);
  }

  /** The policy of the resource asked for: a role's trust policy, or the bucket policy of the object's bucket. */
  private resourceStatements(resource: string): Statement[] {
    if (this.isRoleArn(resource)) {
      const role = resource.slice(resource.lastIndexOf("/") + 1);
      return (this.resources[role]?.Properties.AssumeRolePolicyDocument.Statement as Statement[]).map((s) => this.resolve(s) as Statement);
    }
    const bucket = /^arn:[^:]+:s3:::([^/]+)/.exec(resource)?.[1];
    if (!bucket) return [];
    return Object.values(this.resources)
      .filter((p) => p.Type === "AWS::S3::BucketPolicy" && (p.Properties.Bucket as { Ref: string }).Ref === bucket)
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
      .map((s) => this.resolve(s) as Statement);
  }

  private isRoleArn(arn: string): boolean {
    return arn.startsWith(`arn:${PARTITION}:iam::${ACCOUNT}:role/`);
  }

  // ---- one statement ----

  private matches(s: Statement, request: Request, context: Record<string, string | string[]>, asResource: boolean): boolean {
    for (const unsupported of ["NotAction", "NotResource", "NotPrincipal"]) {
      if (unsupported in s) throw new Error(`${unsupported} is not modelled (${describe(s)})`);
    }
    if (asResource && !this.principalMatches(s.Principal, request.principal)) return false;
    if (!list(s.Action).some((a) => glob(a.toLowerCase(), request.action.toLowerCase()))) return false;
    // A resource policy's Resource is checked as well; a trust policy has none.
    if (s.Resource !== undefined) {
      const resources = list(s.Resource).map((r) => substitute(r, context));
      if (resources.some((r) => r === undefined)) return false; // an unresolvable variable: the statement is left out
      if (!resources.some((r) => glob(r!, request.resource))) return false;
    }
    return this.conditionsHold(s, context);
  }

  private principalMatches(principal: Statement["Principal"], session: Session): boolean {
    if (principal === undefined) throw new Error("a resource policy statement without a Principal");
    if (principal === "*") return true;
    for (const [kind, values] of Object.entries(principal)) {
      if (kind !== "AWS") continue; // Service and Federated principals are never a role session
      for (const value of list(values)) {
        if (value === "*" || value === `arn:${PARTITION}:iam::${ACCOUNT}:root` || value === this.roleArn(session.role)) return true;
      }
    }
    return false;
  }

  private namesRole(s: Statement, role: string): boolean {
    const aws = s.Principal && s.Principal !== "*" ? list(s.Principal.AWS) : [];
    return aws.includes(this.roleArn(role));
  }

  private conditionsHold(s: Statement, context: Record<string, string | string[]>): boolean {
    for (const [operator, keys] of Object.entries(s.Condition ?? {})) {
      for (const [key, wanted] of Object.entries(keys)) {
        const expected = list(wanted).map((w) => substitute(w, context));
        if (expected.some((e) => e === undefined)) return false;
        if (!holds(operator, context[key], expected as string[])) return false;
      }
    }
    return true;
  }

  /** The keys AWS puts in every request of a role session, then the request's own. */
  private contextOf(request: Request): Record<string, string | string[]> {
    return {
      "aws:PrincipalArn": this.roleArn(request.principal.role),
      "aws:PrincipalAccount": ACCOUNT,
      "aws:SecureTransport": "true",
      ...Object.fromEntries(Object.entries(request.principal.tags ?? {}).map(([k, v]) => [`aws:PrincipalTag/${k}`, v])),
      ...request.context,
    };
  }

  // ---- CloudFormation intrinsics, resolved to plain strings ----

  /** `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Select`, `Fn::Split` → strings (bucket names and role names are logical ids). */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (!value || typeof value !== "object") return value;
    const o = value as Record<string, unknown>;
    if ("Ref" in o) {
      const ref = String(o.Ref);
      if (ref === "AWS::Partition") return PARTITION;
      if (ref === "AWS::AccountId") return ACCOUNT;
      if (ref === "AWS::Region") return "us-east-1";
      return ref;
    }
    if ("Fn::GetAtt" in o) {
      const [id, attribute] = o["Fn::GetAtt"] as [string, string];
      const type = this.resources[id]?.Type;
      if (attribute !== "Arn") return `${id}.${attribute}`;
      if (type === "AWS::IAM::Role") return this.roleArn(id);
      if (type === "AWS::S3::Bucket") return this.bucketArn(id);
      return `arn:${PARTITION}:other:::${id}`;
    }
    if ("Fn::Join" in o) {
      const [separator, parts] = o["Fn::Join"] as [string, unknown[]];
      return (this.resolve(parts) as unknown[]).map(String).join(separator);
    }
    if ("Fn::Split" in o) {
      const [separator, source] = o["Fn::Split"] as [string, unknown];
      return String(this.resolve(source)).split(separator);
    }
    if ("Fn::Select" in o) {
      const [index, items] = o["Fn::Select"] as [number, unknown];
      return (this.resolve(items) as unknown[])[index];
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, this.resolve(v)]));
  }
}

function list<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function describe(s: Statement): string {
  return s.Sid ?? `${s.Effect} ${list(s.Action).join(",")}`;
}

/** Replaces `${key}` with the request's value of `key`; undefined when a variable has no (single) value. */
function substitute(text: string, context: Record<string, string | string[]>): string | undefined {
  let unresolved = false;
  const out = text.replace(/\$\{([^}]+)\}/g, (_, key: string) => {
    const value = context[key];
    if (typeof value !== "string") {
      unresolved = true;
      return "";
    }
    return value;
  });
  return unresolved ? undefined : out;
}

/** IAM's wildcards: `*` any run of characters (slashes too), `?` one character. */
function glob(pattern: string, value: string): boolean {
  const regex = new RegExp(`^${pattern.split("").map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("")}$`, "s");
  return regex.test(value);
}

/**
 * One condition operator on one key. A single-valued key that is missing fails every operator but Null; the
 * ForAllValues: set operator holds on a missing or empty key (IAM: "ForAllValues … returns true if the context
 * key is not in the request"), which is why a policy that requires a tag also needs a StringLike on it.
 */
function holds(operator: string, actual: string | string[] | undefined, expected: string[]): boolean {
  if (operator === "Null") return expected.includes(String(actual === undefined));
  if (operator.startsWith("ForAllValues:")) {
    const values = list(actual);
    return values.every((v) => holds(operator.slice("ForAllValues:".length), v, expected));
  }
  if (actual === undefined || Array.isArray(actual)) return false;
  switch (operator) {
    case "StringEquals":
    case "ArnEquals":
      return expected.includes(actual);
    case "StringLike":
    case "ArnLike":
      return expected.some((e) => glob(e, actual));
    case "Bool":
      return expected.some((e) => e.toLowerCase() === actual.toLowerCase());
    default:
      throw new Error(`condition operator ${operator} is not modelled`);
  }
}
