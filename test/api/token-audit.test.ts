/**
 * Bearer token exchanges at /token in the audit trail, read back through LookupEvents: a login
 * by Basic GET or containerd's form is ECR's GetAuthorizationToken under the caller, a refused
 * one carries its error, an anonymous one is in no account's trail, and no record holds the
 * login token or the Bearer token handed out.
 */
import { CloudTrailClient, type Event, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { DeleteAccessKeyCommand, DeleteUserCommand, DetachUserPolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials } from '../e2e/helpers/ecr-client.js';
import { createUser, MANAGED, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

interface TrailRecord {
  eventSource: string;
  eventName: string;
  readOnly: boolean;
  userAgent: string;
  userIdentity: { type: string; arn: string; userName?: string; accessKeyId?: string };
  requestParameters: unknown;
  errorCode?: string;
  errorMessage?: string;
}

/** The user agents the exchanges are sent with, so their records are told from the SDK's GetAuthorizationToken. */
const UA = { get: 'token-audit/get', form: 'token-audit/form', anonymous: 'token-audit/anonymous', refused: 'token-audit/refused' };

describe('token exchanges in the audit trail', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  let exchanger: TestIdentity;

  const trail = () => new CloudTrailClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
  /** Every event the account's root finds with this attribute. */
  const eventsOf = async (AttributeValue: string, AttributeKey: 'Username' | 'EventName' = 'Username'): Promise<Event[]> => {
    const events: Event[] = [];
    let NextToken: string | undefined;
    do {
      const page = await trail().send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey, AttributeValue }], NextToken }));
      events.push(...(page.Events ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
    return events;
  };
  /** The records under `user` sent with `ua`, once the writer has stored `n` of them. */
  const recorded = (user: string, ua: string, n = 1) =>
    waitFor(`${n} ${ua} record(s) of ${user}`, async () => {
      const found = (await eventsOf(user)).filter((e) => (JSON.parse(e.CloudTrailEvent!) as TrailRecord).userAgent === ua);
      return found.length >= n ? found : undefined;
    });
  const exchange = (ua: string, authorization?: string) =>
    fetch(`${berth.url}/token?service=berth&scope=repository:team/app:pull`, {
      headers: { 'user-agent': ua, ...(authorization !== undefined && { authorization }) },
    });

  before(async () => {
    berth = await startInProcess({ onDisk: true });
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    exchanger = await createUser(berth, iam, 'exchanger', ['ReadOnly']);
  });
  after(async () => berth?.cleanup());

  it("records a login by Basic GET and by containerd's form as ECR's GetAuthorizationToken, under the caller, with neither token", async () => {
    const login = exchanger.authorization!;
    const got = await exchange(UA.get, login);
    assert.equal(got.status, 200);
    const issued = [((await got.json()) as { token: string }).token];
    const password = Buffer.from(login.slice('Basic '.length), 'base64').toString().slice('AWS:'.length);
    const form = await fetch(`${berth.url}/token`, {
      method: 'POST',
      headers: { 'user-agent': UA.form, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: 'AWS', password, service: 'berth', scope: 'repository:team/app:pull' }).toString(),
    });
    assert.equal(form.status, 200);
    issued.push(((await form.json()) as { token: string }).token);
    for (const ua of [UA.get, UA.form]) {
      const [event] = await recorded('exchanger', ua);
      assert.equal(event!.EventName, 'GetAuthorizationToken');
      assert.equal(event!.EventSource, 'ecr.amazonaws.com');
      const r = JSON.parse(event!.CloudTrailEvent!) as TrailRecord;
      assert.equal(r.eventSource, 'ecr.amazonaws.com');
      assert.equal(r.eventName, 'GetAuthorizationToken');
      assert.equal(r.readOnly, true);
      assert.equal(r.userIdentity.type, 'IAMUser');
      assert.equal(r.userIdentity.userName, 'exchanger');
      assert.match(r.userIdentity.arn, /:user\/exchanger$/);
      assert.equal(r.requestParameters, null, 'the form (its password) is no parameter');
      assert.equal(r.errorCode, undefined);
      for (const secret of [password, ...issued]) assert.ok(!event!.CloudTrailEvent!.includes(secret), `${ua}'s record holds no token`);
    }
  });

  it('records a refused exchange with its error under the principal its login names; an anonymous one under no account', async () => {
    const leaver = await createUser(berth, iam, 'leaver', ['ReadOnly']);
    await iam.send(new DetachUserPolicyCommand({ UserName: 'leaver', PolicyArn: `${MANAGED}ReadOnly` }));
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'leaver', AccessKeyId: leaver.keys.accessKeyId }));
    await iam.send(new DeleteUserCommand({ UserName: 'leaver' }));
    assert.equal((await exchange(UA.anonymous)).status, 200);
    const refused = await exchange(UA.refused, leaver.authorization);
    assert.equal(refused.status, 401);
    const [event] = await recorded('leaver', UA.refused);
    const r = JSON.parse(event!.CloudTrailEvent!) as TrailRecord;
    assert.equal(r.eventName, 'GetAuthorizationToken');
    assert.equal(r.errorCode, 'UnrecognizedClientException');
    assert.match(r.errorMessage!, /leaver of this login token no longer exists/);
    // The anonymous exchange came before the refused one, whose record is stored: it has none.
    const all = await eventsOf('GetAuthorizationToken', 'EventName');
    assert.ok(all.length > 0);
    assert.equal(all.filter((e) => e.CloudTrailEvent!.includes(UA.anonymous)).length, 0);
  });
});
