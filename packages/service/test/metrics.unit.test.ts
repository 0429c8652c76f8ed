import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceMetrics } from '../src/index.ts';

class Sample extends ServiceMetrics {
  readonly emails = this.counter('emails_total', 'Emails', {
    kind: ['done', 'failed'],
    outcome: ['sent', 'retried', 'skipped'],
  });
  readonly requests = this.counter('requests_total', 'Requests', { route: [] });
  readonly seconds = this.histogram('send_seconds', 'Send time', [0.1, 1], { result: ['ok'] });
}

describe('ServiceMetrics', () => {
  it('starts a counter at 0 for every combination of its labels’ known values', async () => {
    const metrics = new Sample();
    const { values } = await metrics.emails.get();
    assert.deepEqual(
      values
        .map(({ labels, value }) => `${String(labels.kind)}/${String(labels.outcome)}=${value}`)
        .sort(),
      [
        'done/retried=0',
        'done/sent=0',
        'done/skipped=0',
        'failed/retried=0',
        'failed/sent=0',
        'failed/skipped=0',
      ],
    );
    assert.deepEqual((await metrics.requests.get()).values, []);
  });

  it('keeps its own registry, with the process metrics', async () => {
    const one = new Sample();
    const two = new Sample();
    one.requests.inc({ route: '/upload' });
    assert.match(await one.registry.metrics(), /requests_total\{route="\/upload"\} 1/);
    assert.doesNotMatch(await two.registry.metrics(), /route="\/upload"/);
    assert.match(await one.registry.metrics(), /process_cpu_seconds_total/);
    one.seconds.observe({ result: 'ok' }, 0.5);
    assert.match(await one.registry.metrics(), /send_seconds_bucket\{le="1",result="ok"\} 1/);
  });
});
