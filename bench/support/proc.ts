// What Linux says about a process and the machine (/proc), for the benchmarks' figures.
// Elsewhere these return undefined and the figures are not shown.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS = 100; // USER_HZ, 100 on every Linux that matters

/** Resident memory (VmRSS) of a process in bytes. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Open file descriptors of a process (sockets included). */
export function openFds(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by some processes, by this one, and by the whole machine. */
export interface CpuSnapshot {
  pids: number[];
  /** Per pid, user + system seconds. */
  process: number[];
  self: number;
  machineBusy: number;
  machineTotal: number;
  at: number;
}

/** In % of one core; machine: % of all cores busy (everything running, the database too). */
export interface CpuUse {
  process: number[];
  self: number;
  machine: number;
}

export function cpuSnapshot(pids: number[]): CpuSnapshot | undefined {
  try {
    const process_ = pids.map((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[11], [12]: utime, stime
        return (Number(fields[11]) + Number(fields[12])) / TICKS;
      } catch {
        // Gone meanwhile (a database backend that closed): what it used since is not known.
        return NaN;
      }
    });
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = cpu as [number, number, number, number, number, number, number, number];
    const usage = process.cpuUsage();
    return {
      pids,
      process: process_,
      self: (usage.user + usage.system) / 1e6,
      machineBusy: (user + nice + system + irq + softirq + steal) / TICKS,
      machineTotal: (user + nice + system + idle + iowait + irq + softirq + steal) / TICKS,
      at: performance.now() / 1000,
    };
  } catch {
    return undefined;
  }
}

export function cpuUse(a: CpuSnapshot | undefined, b: CpuSnapshot | undefined): CpuUse | undefined {
  if (!a || !b) return undefined;
  const seconds = b.at - a.at;
  return {
    // A process that ended between the two readings counts for nothing.
    process: a.process.map((p, i) => {
      const q = b.process[i];
      return q === undefined || Number.isNaN(q) || Number.isNaN(p) ? 0 : (100 * (q - p)) / seconds;
    }),
    self: (100 * (b.self - a.self)) / seconds,
    machine: (100 * (b.machineBusy - a.machineBusy)) / (b.machineTotal - a.machineTotal),
  };
}

/**
 * The benchmark database's backends and the other processes of the server running them
 * (checkpointer, WAL writer, ...), when that server runs on this machine; [] elsewhere.
 */
export function postgresProcesses(database: string): number[] {
  const pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  const info = (pid: number) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return { pid, ppid, title: readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ') };
    } catch {
      return undefined;
    }
  };
  const all = pids.map(info).filter((p) => p !== undefined);
  const postmasters = new Set(all.filter((p) => p.title.startsWith('postgres: ') && p.title.includes(` ${database} `)).map((p) => p.ppid));
  return all.filter((p) => postmasters.has(p.ppid) && p.title.startsWith('postgres: ')).map((p) => p.pid);
}
