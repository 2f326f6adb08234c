// A node:test reporter that prints, after the run, the test files whose tests took longest (the sum
// of their top-level tests' durations; hooks not included): what to look at when the suite gets slow.
import path from 'node:path';

export default async function* fileTimes(source) {
  const totals = new Map();
  for await (const event of source) {
    if ((event.type !== 'test:pass' && event.type !== 'test:fail') || event.data.nesting !== 0 || !event.data.file) continue;
    totals.set(event.data.file, (totals.get(event.data.file) ?? 0) + (event.data.details?.duration_ms ?? 0));
  }
  const slowest = [...totals].sort((a, b) => b[1] - a[1]).slice(0, 12);
  yield `\nSlowest test files (seconds in their tests):\n${slowest.map(([file, ms]) => `  ${(ms / 1000).toFixed(0).padStart(5)}  ${path.relative(process.cwd(), file)}`).join('\n')}\n`;
}
