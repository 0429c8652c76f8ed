// CPU and memory readings from /proc (Linux only).

import { readFile, readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CpuSnapshot {
  /** Ticks of the whole machine (user to steal), and of them idle or waiting for I/O. */
  total: number;
  idle: number;
  /** Ticks of this process and its reaped descendants (converters and their ffmpeg, ffmpeg). */
  ours: number;
  /** Ticks of the local servers the converter works against. */
  servers: number;
}

const SERVERS = /secantusd|beam\.smp|mariadbd|maildev/;
/** The unit of /proc's CPU times: sysconf(_SC_CLK_TCK), 100 on every Linux architecture in use. */
export const USER_HZ = 100;

/** CPU time so far, from /proc (all in the kernel's USER_HZ ticks). */
export async function cpuSnapshot(): Promise<CpuSnapshot> {
  // The first line of /proc/stat: cpu user nice system idle iowait irq softirq steal guest...;
  // guest time is already counted in user.
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const machine = line.split(/\s+/).slice(1, 9).map(Number);
  let servers = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (!SERVERS.test(await readFile(`/proc/${pid}/cmdline`, 'utf8'))) continue;
      servers += await cpuTicks(pid, false);
    } catch {
      // Gone since readdir.
    }
  }
  return {
    total: machine.reduce((sum, ticks) => sum + ticks, 0),
    idle: (machine[3] ?? 0) + (machine[4] ?? 0),
    ours: await cpuTicks('self', true),
    servers,
  };
}

/** The share of the machine's CPU that was idle between two snapshots. */
export function idleCpuPercent(before: CpuSnapshot, after: CpuSnapshot): number {
  return (100 * (after.idle - before.idle)) / Math.max(1, after.total - before.total);
}

/**
 * The share of the machine's CPU that went to other work between two snapshots taken while
 * none of our child processes ran: neither ours nor the servers'. Other work (another test run
 * on the same machine) skews every number, the scaling most.
 */
export function otherCpuPercent(before: CpuSnapshot, after: CpuSnapshot): number {
  const busy = after.total - after.idle - (before.total - before.idle);
  const other = busy - (after.ours - before.ours) - (after.servers - before.servers);
  return (100 * Math.max(0, other)) / Math.max(1, after.total - before.total);
}

/**
 * utime + stime of a process from /proc/<pid>/stat, plus cutime + cstime (its reaped
 * descendants) if `children`.
 */
export async function cpuTicks(pid: number | string, children: boolean): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The fields after the ")" that ends the command name start with the 3rd, state.
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const [utime = 0, stime = 0, cutime = 0, cstime = 0] = fields.slice(11, 15);
  return utime + stime + (children ? cutime + cstime : 0);
}

/** A field of /proc/<pid>/status, in KiB (VmHWM: peak resident set; VmRSS: now). */
export async function procStatusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const value = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1];
  if (value === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(value);
}

/** Samples the peak RSS of `pid`'s child processes (its ffmpeg) every 100 ms. */
export function watchChildrenPeak(pid: number): { stop(): Promise<number> } {
  let peak = 0;
  const stopped = new AbortController();
  const sample = async (): Promise<void> => {
    try {
      for (const task of await readdir(`/proc/${pid}/task`)) {
        const list = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8');
        for (const child of list.split(' ').filter((id) => id !== '')) {
          peak = Math.max(peak, await procStatusKiB(Number(child), 'VmHWM'));
        }
      }
    } catch {
      // A process or thread that ended between two reads.
    }
  };
  const loop = (async () => {
    while (!stopped.signal.aborted) {
      await sample();
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      stopped.abort();
      await loop;
      return peak;
    },
  };
}
