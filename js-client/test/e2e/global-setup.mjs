// Builds the server binary once for every browser test, from the repository
// root (the embedded static/assets/rotor.js is the client just built).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export default function setup({ provide }) {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-e2e-bin-'));
  const bin = join(dir, 'rotor');
  const root = resolve(import.meta.dirname, '../../..');
  execFileSync('go', ['build', '-o', bin, './cmd/rotor'], { cwd: root, stdio: 'inherit' });
  provide('rotorBin', bin);
  return () => rmSync(dir, { recursive: true, force: true });
}
