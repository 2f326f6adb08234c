import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { KEYDESK_ENTRY } from './cli.js';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface KeydeskProcess {
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (kill -9): no shutdown, no cleanup, whatever was in flight. */
  kill(): Promise<void>;
}

/** Runs `keydesk <args>` as its own process and waits for the start banner. */
export async function startKeydeskProcess(args: string[], env: Record<string, string>, timeoutMs = 90_000): Promise<KeydeskProcess> {
  const child = spawn(process.execPath, [...KEYDESK_ENTRY, ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start banner after ${timeoutMs} ms:\n${out}`)), timeoutMs);
    child.stdout.on('data', () => {
      if (out.includes('API reference')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited early (${code}):\n${out}`));
    });
  });
  return {
    output: () => out,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
