/** Protocol between the bench orchestrator and a Node server script: `READY <port>` on stdout when
 * listening; SIGUSR2 forces a full GC (the script runs with --expose-gc) and prints `GC <n>`;
 * SIGTERM stops cleanly (so --cpu-prof can write its profile) and exits. */
export function announce(port: number, stop: () => unknown): void {
  let collections = 0;
  process.on('SIGUSR2', () => {
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    process.stdout.write(`GC ${++collections} heap=${m.heapUsed} external=${m.external} rss=${m.rss} heapTotal=${m.heapTotal}\n`);
  });
  process.on('SIGTERM', () => {
    Promise.resolve(stop()).finally(() => process.exit(0));
  });
  process.stdout.write(`READY ${port}\n`);
}

export function portArg(): number {
  const port = Number(process.argv[2] ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port ${process.argv[2]}`);
  return port;
}
