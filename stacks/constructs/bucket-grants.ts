import * as iam from "aws-cdk-lib/aws-iam";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type { BucketAccess } from "../../workflows/types.ts";

/**
 * Grants exactly the S3 actions the steps use, on exactly the key patterns a workflow declares. The CDK's
 * `grantRead`/`grantReadWrite` would add `s3:GetObject*`, `s3:List*` and friends on the whole bucket.
 */
export function grantBucketAccess(grantee: iam.IGrantable, bucket: s3.IBucket, access: BucketAccess): void {
  const read = access.read ?? [];
  const readWrite = access.readWrite ?? [];
  const objects = (patterns: string[]) => patterns.map((p) => bucket.arnForObjects(p));
  const statements: iam.PolicyStatement[] = [];
  if (read.length > 0) {
    statements.push(new iam.PolicyStatement({ sid: "ReadOwnPrefixes", actions: ["s3:GetObject"], resources: objects(read) }));
  }
  if (read.length + readWrite.length > 0) {
    statements.push(
      new iam.PolicyStatement({
        sid: "ListOwnPrefixes",
        actions: ["s3:ListBucket"],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": [...readWrite, ...read] } },
      }),
    );
  }
  if (readWrite.length > 0) {
    statements.push(
      new iam.PolicyStatement({
        sid: "ReadWriteOwnPrefixes",
        actions: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        resources: objects(readWrite),
      }),
    );
  }
  for (const statement of statements) grantee.grantPrincipal.addToPrincipalPolicy(statement);
}
