// `qtstatus serve --workers N` (issue #4): the primary checks the setup once
// (certificates, store and its migration, UDP targets: checkRuntime) so a
// mistake is one clear error rather than N, then forks N workers that each
// start the same runtime (src/server/runtime.ts) and share the listening
// port (node:cluster), the UDP source port and the store. It forwards
// signals, restarts a worker that dies, and serves the summed metrics.

import cluster, { type Worker } from 'node:cluster';
import { ErrorCodes, QtError } from '../errors.ts';
import { clusterMetrics } from '../server/metrics.ts';
import { startMetricsServer, type MetricsServer } from '../server/metrics-server.ts';
import { checkRuntime } from '../server/runtime.ts';
import { banner, runtimeConfig, type ServeOptions } from './serve-setup.ts';

const MAX_RESTARTS_PER_MINUTE = 5;

interface Listening {
  type: 'listening';
  url: string;
  store: string;
  targets: string[];
}

export async function runPrimary(opts: ServeOptions): Promise<void> {
  const info = (text: string) => process.stderr.write(`${text}\n`);
  await checkRuntime(runtimeConfig(opts, process.env));

  let stopping = false;
  const restarts: number[] = [];
  const ready = new Map<number, Listening>();
  let announced = false;
  let metricsServer: MetricsServer | undefined;
  let fail: (err: QtError) => void = () => {};
  const failed = new Promise<never>((_, reject) => (fail = reject));

  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (msg: Listening) => {
      if (msg?.type !== 'listening') return;
      ready.set(worker.id, msg);
      if (!announced && ready.size === opts.workers) {
        announced = true;
        for (const line of banner(opts, msg, opts.workers)) info(line);
      }
    });
    return worker;
  };

  cluster.on('exit', (worker, code, signal) => {
    ready.delete(worker.id);
    if (stopping) return;
    if (!announced) {
      fail(new QtError(ErrorCodes.INTERNAL, `a worker exited while starting (code ${code ?? signal})`, { hint: 'its error is above' }));
      return;
    }
    const now = Date.now();
    restarts.push(now);
    while ((restarts[0] ?? now) < now - 60_000) restarts.shift();
    if (restarts.length > MAX_RESTARTS_PER_MINUTE) {
      fail(new QtError(ErrorCodes.INTERNAL, `workers keep dying (${restarts.length} in a minute)`, { hint: 'see their errors above' }));
      return;
    }
    info(`qtstatus serve: worker ${worker.process.pid} exited (${code ?? signal}); starting another`);
    fork();
  });

  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        info(`qtstatus serve: ${signal} again: forcing exit`);
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
        process.exit(1);
      }
      stopping = true;
      info(`qtstatus serve: ${signal}: finishing requests in flight (up to ${opts.grace / 1000}s; again to force)`);
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      const check = () => (Object.keys(cluster.workers ?? {}).length === 0 ? finish() : setTimeout(check, 50));
      const finish = () => (metricsServer ? metricsServer.close().then(resolve) : resolve());
      check();
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGHUP', () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
    });
  });

  // Metrics first: if their port is taken, no worker has started yet.
  if (opts.metrics) {
    const m = clusterMetrics();
    metricsServer = await startMetricsServer(opts.metrics, m.text, m.contentType);
    info(`metrics on ${metricsServer.url}`);
  }
  for (let i = 0; i < opts.workers; i++) fork();
  try {
    await Promise.race([stopped, failed]);
  } catch (err) {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    await metricsServer?.close();
    throw err;
  }
  info('qtstatus serve: stopped');
}
