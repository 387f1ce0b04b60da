/**
 * The `deadline` option: the moment by which the work a request leaves
 * behind must end. A lease taken to collapse misses across instances never
 * outlives it, nor does a wait for another instance's lease (in AWS Lambda:
 * the invocation's end, after which the instance may be frozen for minutes
 * while it holds the lease everyone else waits on).
 */

/** The lease and the wait, cut to the time left before the deadline (0: no time left to lead or to wait). */
export function withinDeadline(
  limits: { leaseMs: number; waitMs: number },
  deadline: (() => Date | number | undefined) | undefined,
  now: number,
): { leaseMs: number; waitMs: number } {
  if (deadline === undefined) return limits;
  let at: Date | number | undefined;
  try {
    at = deadline();
  } catch {
    return limits; // a deadline that cannot be read bounds nothing
  }
  const ms = at instanceof Date ? at.getTime() : at;
  if (typeof ms !== 'number' || Number.isNaN(ms)) return limits;
  const left = Math.max(0, Math.floor(ms - now));
  return { leaseMs: Math.min(limits.leaseMs, left), waitMs: Math.min(limits.waitMs, left) };
}
