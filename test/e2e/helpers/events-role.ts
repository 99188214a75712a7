/**
 * The role an EventBridge API destination target names (RoleArn): EventBridge invokes the
 * destination with it, so it must allow events:InvokeApiDestination (src/http/events/target-role.ts).
 */
import { CreateRoleCommand, type IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';

/** Makes a role EventBridge may assume that may invoke `destinations` (every API destination by default); returns its ARN. */
export async function eventsInvokeRole(iam: IAMClient, name: string, destinations: string | string[] = '*'): Promise<string> {
  const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sts:AssumeRole' }] };
  const { Role } = await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trust) }));
  const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'events:InvokeApiDestination', Resource: destinations }] };
  await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'invoke', PolicyDocument: JSON.stringify(policy) }));
  return Role!.Arn!;
}
