import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@mp3converter/testkit';
import { signUp, startTestSystem, videoForm, type TestSystem } from './support.ts';

let system: TestSystem;
let token: string;

before(async () => {
  system = await startTestSystem();
  ({ token } = await signUp(system.url));
});

after(async () => {
  await system.stop();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[name!] = value!;
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

async function metrics(): Promise<Sample[]> {
  const response = await fetch(`${system.url}/metrics`);
  assert.equal(response.status, 200);
  return parseMetrics(await response.text());
}

/** The value of the one sample with this name and (at least) these labels; 0 when absent. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([label, value]) => sample.labels[label] === value),
  );
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value ?? 0;
}

/** Waits until the counter has reached `atLeast` (responses are counted when they close). */
async function counterReaches(
  name: string,
  labels: Record<string, string>,
  atLeast: number,
): Promise<number> {
  return waitFor(
    async () => {
      const value = valueOf(await metrics(), name, labels);
      return value >= atLeast ? value : undefined;
    },
    { what: `${name}${JSON.stringify(labels)} >= ${atLeast}` },
  );
}

interface ReadinessBody {
  status?: string;
  code?: string;
  detail?: string;
  checks: Record<string, string>;
}

async function readyz(): Promise<{
  status: number;
  retryAfter: string | null;
  body: ReadinessBody;
}> {
  const response = await fetch(`${system.url}/readyz`);
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as ReadinessBody,
  };
}

describe('probes', () => {
  it('answers /healthz 200', async () => {
    const response = await fetch(`${system.url}/healthz`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
  });

  it('answers /readyz 200 with MongoDB, RabbitMQ and auth checked', async () => {
    const { status, body } = await readyz();
    assert.equal(status, 200);
    assert.deepEqual(body, {
      status: 'ready',
      checks: { mongodb: 'ok', rabbitmq: 'ok', auth: 'ok' },
    });
  });

  it('answers /readyz 503 naming rabbitmq while the broker is unreachable, 200 once it is back', async () => {
    await system.amqpProxy.cut();
    try {
      const down = await waitFor(
        async () => {
          const answer = await readyz();
          return answer.status === 503 ? answer : undefined;
        },
        { what: '/readyz 503' },
      );
      assert.equal(down.body.code, 'DEPENDENCY_UNAVAILABLE');
      assert.match(down.body.detail ?? '', /rabbitmq/);
      assert.deepEqual(down.body.checks, { mongodb: 'ok', rabbitmq: 'unavailable', auth: 'ok' });
      assert.ok(Number(down.retryAfter) > 0);
    } finally {
      await system.amqpProxy.restore();
    }
    await waitFor(async () => (await readyz()).status === 200, {
      timeoutMs: 30_000,
      what: '/readyz 200 after the broker is back',
    });
  });
});

describe('metrics', () => {
  it('serves the Prometheus text format with request counts and durations by route pattern', async () => {
    const jobId = randomUUID();
    await system.api.as(token).getJob(jobId, { expectedStatus: 404 });
    const unknown = await fetch(`${system.url}/no/such/${jobId}`);
    assert.equal(unknown.status, 404);

    const labels = { method: 'GET', route: '/jobs/:jobId', status: '404' };
    await counterReaches('http_requests_total', labels, 1);
    await counterReaches('http_requests_total', { ...labels, route: 'unmatched' }, 1);

    const response = await fetch(`${system.url}/metrics`);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /^# TYPE http_requests_total counter$/m);
    assert.match(text, /^# TYPE http_request_duration_seconds histogram$/m);
    assert.match(text, /^# TYPE upload_bytes_total counter$/m);
    assert.match(text, /^# TYPE uploads_total counter$/m);
    // Raw paths never become labels: one series per route, however many ids are asked for.
    assert.ok(!text.includes(jobId), 'a raw job id appears in the metrics');
    const samples = parseMetrics(text);
    assert.ok(
      valueOf(samples, 'http_request_duration_seconds_count', labels) >= 1,
      'the request was timed',
    );
    assert.ok(
      valueOf(samples, 'http_request_duration_seconds_bucket', { ...labels, le: '+Inf' }) >= 1,
    );
  });

  it('counts uploaded bytes and uploads by outcome', async () => {
    const before = await metrics();
    const bytesBefore = valueOf(before, 'upload_bytes_total');
    const acceptedBefore = valueOf(before, 'uploads_total', { outcome: 'accepted' });
    const rejectedBefore = valueOf(before, 'uploads_total', { outcome: 'rejected' });

    const content = randomBytes(300_000);
    const api = system.api.as(token);
    await api.upload(videoForm(content));
    await api.upload(videoForm(new Uint8Array(0)), { expectedStatus: 400 });

    await counterReaches('uploads_total', { outcome: 'accepted' }, acceptedBefore + 1);
    await counterReaches('uploads_total', { outcome: 'rejected' }, rejectedBefore + 1);
    const after = await metrics();
    assert.ok(
      valueOf(after, 'upload_bytes_total') >= bytesBefore + content.length,
      `upload_bytes_total grew by ${valueOf(after, 'upload_bytes_total') - bytesBefore}`,
    );
    assert.equal(valueOf(after, 'uploads_total', { outcome: 'accepted' }), acceptedBefore + 1);
    await counterReaches(
      'http_requests_total',
      { method: 'POST', route: '/upload', status: '202' },
      1,
    );
  });

  it('labels a 401 of GET /jobs with its route', async () => {
    const response = await fetch(`${system.url}/jobs`);
    assert.equal(response.status, 401);
    // Counted under some route label first, then checked for the right one.
    const counted = await waitFor(
      async () =>
        (await metrics()).find(
          (sample) =>
            sample.name === 'http_requests_total' &&
            sample.labels.method === 'GET' &&
            sample.labels.status === '401',
        ),
      { what: 'the 401 counted' },
    );
    assert.equal(counted.labels.route, '/jobs');
  });
});

// Last: auth does not come back in this file.
describe('with auth down', () => {
  it('answers /readyz 503 naming auth', async () => {
    await system.auth.stopService();
    const { status, retryAfter, body } = await readyz();
    assert.equal(status, 503);
    assert.match(body.detail ?? '', /auth/);
    assert.deepEqual(body.checks, { mongodb: 'ok', rabbitmq: 'ok', auth: 'unavailable' });
    assert.ok(Number(retryAfter) > 0);
    // Liveness does not depend on auth.
    assert.equal((await fetch(`${system.url}/healthz`)).status, 200);
  });
});
