// The one timer every job runs on: a tick at a fixed interval (and optionally at once), never two
// ticks of the same job at a time, errors handed to the job's logger, and no hold on process exit.

/** Runs `tick` every `intervalMs`; returns the function that stops it. */
export function runPeriodically(
  intervalMs: number,
  tick: () => Promise<void>,
  onError: (err: unknown) => void,
  opts: { atStart?: boolean } = {},
): () => void {
  let running = false;
  const run = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      await tick();
    } catch (e) {
      onError(e);
    } finally {
      running = false;
    }
  };
  if (opts.atStart) void run();
  const timer = setInterval(() => void run(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
