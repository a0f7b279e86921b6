import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { suppressAccessLogBucketFindings } from "../nag.ts";

/**
 * The one bucket: `raw/` (downloaded sources), `staging/` (per-run intermediates), and the published
 * `{region}/{period}/` months. Private, encrypted, TLS only.
 */
export class DataBucket extends Construct {
  readonly bucket: s3.Bucket;
  /** Server access logs of the data bucket: who read or wrote what, for audits. */
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.accessLogs = new s3.Bucket(this, "AccessLogs", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ id: "expire-access-logs", expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    suppressAccessLogBucketFindings(this.accessLogs);
    this.bucket = new s3.Bucket(this, "Bucket", {
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: "data/",
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      lifecycleRules: [
        // Sources are re-downloaded when Geofabrik publishes a new version; an old one is only a cache.
        { id: "expire-raw", prefix: "raw/", expiration: Duration.days(45), abortIncompleteMultipartUploadAfter: Duration.days(2) },
        // Per-run intermediates: kept a week for debugging a failed run, then gone.
        { id: "expire-staging", prefix: "staging/", expiration: Duration.days(7), abortIncompleteMultipartUploadAfter: Duration.days(1) },
        { id: "abort-incomplete-uploads", abortIncompleteMultipartUploadAfter: Duration.days(2) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
