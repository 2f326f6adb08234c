// A node:test reporter that prints, after the run, the test files that took longest (from a file's
// first event to its last, as they arrived): what to look at when the suite gets slow.
import path from 'node:path';

export default async function* fileTimes(source) {
  const spans = new Map();
  for await (const event of source) {
    const file = event.data?.file;
    if (!file) continue;
    const now = performance.now();
    const span = spans.get(file);
    if (span) span.last = now;
    else spans.set(file, { first: now, last: now });
  }
  const slowest = [...spans].map(([file, s]) => [path.relative(process.cwd(), file), (s.last - s.first) / 1000]).sort((a, b) => b[1] - a[1]);
  yield `\nSlowest test files (seconds from first to last event):\n${slowest.slice(0, 12).map(([f, s]) => `  ${s.toFixed(0).padStart(5)}  ${f}`).join('\n')}\n`;
}
