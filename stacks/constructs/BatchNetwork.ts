import * as ec2 from "aws-cdk-lib/aws-ec2";
import { Construct } from "constructs";

/**
 * A VPC without NAT gateways. A NAT gateway costs about $33 a month per zone plus $0.045 per GB processed,
 * which would dwarf the cost of the monthly runs (and every source download would pay the per-GB fee). Tasks
 * run in public subnets with a public IP instead, and accept no inbound traffic. S3 traffic stays inside AWS
 * through a free gateway endpoint.
 */
export class BatchNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  readonly taskSecurityGroup: ec2.SecurityGroup;
  /** For untrusted code (`network: "https-egress-only"`): no inbound, outbound TCP 443 only. */
  readonly restrictedSecurityGroup: ec2.SecurityGroup;
  readonly taskSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PUBLIC };
  readonly assignPublicIp = true;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    this.vpc.addFlowLog("FlowLog", { trafficType: ec2.FlowLogTrafficType.REJECT });
    this.taskSecurityGroup = new ec2.SecurityGroup(this, "TaskSecurityGroup", {
      vpc: this.vpc,
      description: "Batch tasks: outbound only (sources, S3, ECR, CloudWatch Logs)",
      allowAllOutbound: true,
    });
    // HTTPS is all a task needs: the image from ECR, logs to CloudWatch, S3 (through the gateway endpoint). The
    // VPC's DNS resolver is not subject to security groups.
    this.restrictedSecurityGroup = new ec2.SecurityGroup(this, "RestrictedTaskSecurityGroup", {
      vpc: this.vpc,
      description: "Isolated batch tasks: no inbound, outbound HTTPS only",
      allowAllOutbound: false,
    });
    this.restrictedSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), "HTTPS: ECR, CloudWatch Logs, S3");
  }
}
