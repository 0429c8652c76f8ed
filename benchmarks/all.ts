// Every benchmark that ./scripts/bench runs, one after the other on one idle machine: the
// converter (benchmarks/converter.ts), the original project's conversion step against it
// (benchmarks/original.ts) and the whole system (benchmarks/system.ts: a 1 GiB upload, upload
// to done latency). Human-readable lines as they go; the last stdout line is one JSON object
// with every number. Usage: node benchmarks/all.ts

import { runConverterBenchmark } from './converter.ts';
import { runOriginalBenchmark } from './original.ts';
import { runSystemBenchmark } from './system.ts';

const converter = await runConverterBenchmark();
const original = await runOriginalBenchmark();
const system = await runSystemBenchmark();
console.log(JSON.stringify({ ...converter, ...original, ...system }));
