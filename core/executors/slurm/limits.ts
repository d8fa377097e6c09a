/**
 * What the cluster can ever give one job, per partition (`scontrol show partition/node -o`):
 * a request over a partition's MaxTime or MaxMemPerNode, or more memory, CPUs or GPUs than its
 * largest node has, would sit in the queue as BadConstraints or be rejected by sbatch. It is
 * refused before submission instead, with the request and the limit named.
 */
import type { Resources } from '../../rule.js';
import { slurmCommand } from './commands.js';

export interface PartitionLimits {
  name: string;
  isDefault: boolean;
  /** Minutes; undefined = unlimited. */
  maxTimeMin?: number;
  maxMemPerNodeMb?: number;
  /** The largest of its nodes. */
  nodeMemMb?: number;
  nodeCpus?: number;
  nodeGpus?: number;
  nodes: number;
}

function fields(line: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const match of line.matchAll(/(\w+)=(\S*)/g)) map.set(match[1]!, match[2]!);
  return map;
}

/** SLURM time: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS. Returns minutes. */
export function parseSlurmTime(text: string | undefined): number | undefined {
  if (!text || /^(UNLIMITED|INFINITE|NONE)$/i.test(text)) return undefined;
  const match = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(text.trim());
  if (!match) return undefined;
  const [, days, a, b, c] = match;
  const d = Number(days ?? 0);
  if (days !== undefined) return d * 1440 + Number(a) * 60 + Number(b ?? 0) + Number(c ?? 0) / 60;
  if (c !== undefined) return Number(a) * 60 + Number(b) + Number(c) / 60;
  if (b !== undefined) return Number(a) + Number(b) / 60;
  return Number(a);
}

/** SLURM memory: a number (MB) with an optional K/M/G/T suffix. Returns MB. */
export function parseSlurmMem(text: string | undefined): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([KMGT]?)B?$/i.exec((text ?? '').trim());
  if (!match) return undefined;
  const scale = { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024, '': 1 }[match[2]!.toUpperCase() as 'K' | 'M' | 'G' | 'T' | ''];
  return Number(match[1]) * scale;
}

function gpusOf(gres: string | undefined): number {
  let total = 0;
  for (const part of (gres ?? '').split(',')) {
    const match = /^gpu(?::[^:(]+)?:(\d+)/.exec(part.trim());
    if (match) total += Number(match[1]);
  }
  return total;
}

export async function readPartitions(): Promise<PartitionLimits[] | undefined> {
  const [partitions, nodes] = await Promise.all([slurmCommand('scontrol', ['show', 'partition', '-o'], 15_000), slurmCommand('scontrol', ['show', 'node', '-o'], 15_000)]);
  if (!partitions.ok || !nodes.ok) return undefined;
  const nodeRows = nodes.stdout.split('\n').filter((line) => line.startsWith('NodeName=')).map(fields);
  return partitions.stdout
    .split('\n')
    .filter((line) => line.startsWith('PartitionName='))
    .map(fields)
    .map((p) => {
      const name = p.get('PartitionName')!;
      const members = nodeRows.filter((n) => (n.get('Partitions') ?? '').split(',').includes(name));
      const max = (values: number[]): number | undefined => (values.length > 0 ? Math.max(...values) : undefined);
      const maxMem = p.get('MaxMemPerNode');
      return {
        name,
        isDefault: p.get('Default') === 'YES',
        maxTimeMin: parseSlurmTime(p.get('MaxTime')),
        maxMemPerNodeMb: maxMem && /^\d+$/.test(maxMem) ? Number(maxMem) : undefined,
        nodeMemMb: max(members.map((n) => Number(n.get('RealMemory'))).filter(Number.isFinite)),
        nodeCpus: max(members.map((n) => Number(n.get('CPUTot'))).filter(Number.isFinite)),
        nodeGpus: members.length > 0 ? Math.max(...members.map((n) => gpusOf(n.get('Gres')))) : undefined,
        nodes: members.length,
      };
    });
}

/** Why this request can never run in its partition, or undefined when it can. */
export function unsatisfiable(resources: Resources, partitions: readonly PartitionLimits[]): string | undefined {
  const partition = resources.partition ? partitions.find((p) => p.name === resources.partition) : partitions.find((p) => p.isDefault);
  if (!partition) {
    if (!resources.partition) return undefined; // no default partition: sbatch says what it needs
    return `partition "${resources.partition}" does not exist on this cluster (partitions: ${partitions.map((p) => p.name).join(', ') || 'none'}); set partition in ckbuild.local.yaml or resources.<step>.partition`;
  }
  const where = `partition ${partition.name}`;
  const problems: string[] = [];
  const time = parseSlurmTime(resources.time);
  if (time !== undefined && partition.maxTimeMin !== undefined && time > partition.maxTimeMin) problems.push(`time ${resources.time} exceeds the MaxTime of ${where} (${formatMinutes(partition.maxTimeMin)})`);
  const mem = parseSlurmMem(resources.mem);
  if (mem !== undefined) {
    if (partition.maxMemPerNodeMb !== undefined && mem > partition.maxMemPerNodeMb) problems.push(`mem ${resources.mem} exceeds the MaxMemPerNode of ${where} (${partition.maxMemPerNodeMb} MB)`);
    else if (partition.nodeMemMb !== undefined && mem > partition.nodeMemMb) problems.push(`mem ${resources.mem} exceeds the memory of the largest node in ${where} (RealMemory ${partition.nodeMemMb} MB)`);
  }
  const gpus = resources.gpus ?? 0;
  if (gpus > 0 && partition.nodeGpus !== undefined && gpus > partition.nodeGpus) problems.push(`gpus ${gpus} exceeds the GPUs of the largest node in ${where} (${partition.nodeGpus === 0 ? 'none' : `gres gpu:${partition.nodeGpus}`})`);
  const cpus = resources.cpus_per_task ?? Math.max(1, gpus);
  if (partition.nodeCpus !== undefined && cpus > partition.nodeCpus) problems.push(`cpus_per_task ${cpus} exceeds the CPUs of the largest node in ${where} (${partition.nodeCpus})`);
  if (problems.length === 0) return undefined;
  return `the cluster can never run this request: ${problems.join('; ')}; lower resources.<step> in the experiment (scheduling only: no run key changes) or choose another partition`;
}

function formatMinutes(minutes: number): string {
  const days = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = Math.round(minutes % 60);
  const hms = `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00`;
  return days > 0 ? `${days}-${hms}` : hms;
}
