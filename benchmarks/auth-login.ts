// Login latency and throughput of a running auth service (./scripts/up first).
// Usage: node benchmarks/auth-login.ts [baseUrl] [requests] [concurrency]
import { performance } from 'node:perf_hooks';

const [baseUrl = 'http://127.0.0.1:5000', total = '200', concurrency = '4'] = process.argv.slice(2);
const email = `bench-${Date.now()}@example.com`;
const password = 'benchmark-password';
const authorization = `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}`;
const wrong = `Basic ${Buffer.from(`${email}:not-the-password`).toString('base64')}`;
const unknown = `Basic ${Buffer.from(`nobody-${Date.now()}@example.com:x`).toString('base64')}`;

const registered = await fetch(`${baseUrl}/register`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ email, password }),
});
if (registered.status !== 201) throw new Error(`register answered ${registered.status}`);

async function run(
  header: string,
  expected: number,
  n: number,
  parallel: number,
): Promise<number[]> {
  const times: number[] = [];
  let next = 0;
  // A distinct client address per request keeps the per-address throttle out of the numbers.
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const start = performance.now();
      const res = await fetch(`${baseUrl}/login`, {
        method: 'POST',
        headers: {
          authorization: header,
          'x-forwarded-for': `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        },
      });
      await res.arrayBuffer();
      if (res.status !== expected)
        throw new Error(`login answered ${res.status}, expected ${expected}`);
      times.push(performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return times.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number): string =>
  (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0).toFixed(1);
const n = Number(total);
const c = Number(concurrency);
for (const [label, header, status, parallel] of [
  ['valid, sequential', authorization, 200, 1],
  [`valid, ${c} concurrent`, authorization, 200, c],
  ['wrong password, sequential', wrong, 401, 1],
  ['unknown email, sequential', unknown, 401, 1],
] as const) {
  const started = performance.now();
  // Failures are capped below the per-email limit (default 10 in a window).
  const count = status === 401 ? Math.min(n, 9) : n;
  const times = await run(header, status, count, parallel);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${label.padEnd(28)} n=${String(count).padStart(4)}  p50=${pct(times, 0.5)} ms  p95=${pct(times, 0.95)} ms  ${(count / seconds).toFixed(0)} req/s`,
  );
}
