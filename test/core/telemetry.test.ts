/** The GPU telemetry summary from the CSV nvidia-smi writes (`--format=csv`, units in the header and cells). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summariseGpuCsv } from '../../core/telemetry.js';

const HEADER = 'timestamp, index, utilization.gpu [%], utilization.memory [%], memory.used [MiB], memory.total [MiB], power.draw [W], temperature.gpu';

test('two GPUs, three samples each: mean, min and max over every sample', () => {
  const rows = [
    '2026/12/01 10:00:00.000, 0, 80 %, 40 %, 30000 MiB, 81559 MiB, 300.50 W, 60',
    '2026/12/01 10:00:00.000, 1, 60 %, 30 %, 20000 MiB, 81559 MiB, 250.50 W, 58',
    '2026/12/01 10:00:30.000, 0, 100 %, 50 %, 32000 MiB, 81559 MiB, 350.00 W, 65',
    '2026/12/01 10:00:30.000, 1, 40 %, 20 %, 18000 MiB, 81559 MiB, 200.00 W, 57',
  ];
  assert.deepEqual(summariseGpuCsv([HEADER, ...rows, ''].join('\n')), {
    gpu_samples: 4,
    gpu_util_pct_mean: 70,
    gpu_util_pct_min: 40,
    gpu_util_pct_max: 100,
    gpu_mem_used_mib_mean: 25000,
    gpu_mem_used_mib_min: 18000,
    gpu_mem_used_mib_max: 32000,
    gpu_mem_total_mib: 81559,
    gpu_power_mean_w: 275.25,
  });
});

test('a MIG slice reports [N/A] utilisation: left out and flagged, never read as 0 %', () => {
  const rows = ['2026/12/01 10:00:00.000, 0, [N/A], [N/A], 5000 MiB, 9984 MiB, [N/A], [N/A]', '2026/12/01 10:00:30.000, 0, [N/A], [N/A], 7000 MiB, 9984 MiB, [N/A], [N/A]'];
  const summary = summariseGpuCsv([HEADER, ...rows].join('\n'))!;
  assert.equal(summary.gpu_util_unavailable, true);
  assert.equal(summary.gpu_util_pct_mean, undefined);
  assert.equal(summary.gpu_mem_used_mib_mean, 6000);
});

test('an empty, header-only or foreign file gives nothing or a zero-sample summary, never throws', () => {
  assert.equal(summariseGpuCsv(''), undefined);
  assert.equal(summariseGpuCsv('a,b,c\n1,2,3\n'), undefined);
  assert.deepEqual(summariseGpuCsv(`${HEADER}\n`), { gpu_samples: 0, gpu_util_unavailable: true });
});
