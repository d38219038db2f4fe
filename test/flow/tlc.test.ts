// The flow modules under real TLC: same verdict and state counts as the built-in checker (so the
// modules are plain TLA+, not only what the built-in checker accepts). Needs java and
// tla2tools.jar (TLA2TOOLS_JAR, or ../shared/tools/tla2tools.jar); skipped otherwise.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseFlow } from '../../runtime/flow/parse.ts';
import { flowTlaModule } from '../../runtime/flow/tla-module.ts';
import { check, loadModel, runTlc } from '../../tla/index.ts';
import { javaAvailable } from '../../tla/check/tlc.ts';

const shared = fileURLToPath(new URL('../../../shared/tools/tla2tools.jar', import.meta.url));
const jar = process.env.TLA2TOOLS_JAR ?? (existsSync(shared) ? shared : null);
const why = !javaAvailable()
  ? 'java is not on PATH'
  : !jar || !existsSync(jar)
    ? 'no tla2tools.jar (TLA2TOOLS_JAR or ../shared/tools)'
    : null;
if (why) console.warn(`test/flow/tlc.test.ts skipped: ${why}`);

const dir = mkdtempSync(path.join(tmpdir(), 'buffy-flow-tlc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(why !== null)('flow modules under TLC', () => {
  it('TLC and the built-in checker agree on verdict and state counts', async () => {
    let k = 0;
    for (const text of [
      'A;[B||C];@;D',
      'A;[B;@||[C|E](1,2)];D',
      '[A|B;C];X;[D](0,1);@;E',
      'A;[X;[B||C];@|E|F](1,3)',
    ]) {
      const m = flowTlaModule(parseFlow(text), `TlcFlow${++k}`);
      const spec = path.join(dir, `${m.moduleName}.tla`);
      const cfg = path.join(dir, `${m.moduleName}.cfg`);
      writeFileSync(spec, m.tla);
      writeFileSync(cfg, m.cfg);
      const builtin = check(await loadModel(spec, cfg));
      const tlc = await runTlc({ specFile: spec, cfgFile: cfg, jar: jar! });
      expect(tlc.outcome.result, `${text}\n${tlc.output}`).toBe('ok');
      expect(builtin.result, text).toBe('ok');
      expect(tlc.outcome.distinctStates, text).toBe(builtin.distinctStates);
      expect(tlc.outcome.statesGenerated, text).toBe(builtin.statesGenerated);
    }
  }, 120_000);
});
