/**
 * Waits, when needed, until at least `needSeconds` remain of the current fixed window of
 * `windowSeconds` (windows start at multiples of their length since the epoch, as the rate
 * limiter's and the lockout's do): a test that counts toward a budget must not see a new window
 * start in the middle of its burst.
 */
export async function freshWindow(windowSeconds: number, needSeconds: number): Promise<void> {
  const into = (Date.now() / 1000) % windowSeconds;
  if (windowSeconds - into < needSeconds) await new Promise((r) => setTimeout(r, (windowSeconds - into + 0.2) * 1000));
}
