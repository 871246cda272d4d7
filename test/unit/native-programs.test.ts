// Every native test program (native/tests/*.cpp), run from one table: native/tests/programs.json says
// each run's arguments and what its output must show; the program's exit status says pass or fail first
// (check.h). Runs that need ../shared skip, saying so, without it; the CUDA programs pass as "not
// applicable" on a machine without a GPU, with the reason they print. The scripts that run other builds
// (qemu, wine) read the same table.
import { strict as assert } from 'node:assert';
import { removeFixtures } from '../../fixtures/random-model';
import { programTable, runName, runProgram, unlistedPrograms } from '../helpers/native-programs';

describe('native test programs (native/tests/programs.json)', function () {
  after(removeFixtures);
  const table = programTable();

  it('lists every program in native/tests', () => {
    assert.deepEqual(unlistedPrograms(table), [], 'add them to native/tests/programs.json (runs, or notRun with the reason)');
  });

  for (const r of table.runs) {
    it(`${runName(r)}: ${r.title}`, function () {
      this.timeout(((r.timeoutSec ?? 120) + 60) * 1000);
      const res = runProgram(r);
      if (res.status === 'skipped') {
        console.log(`      (skipped: ${res.why})`);
        this.skip();
      }
      assert.equal(res.status, 'passed', `${res.why}\n${res.output.trim().split('\n').slice(-30).join('\n')}`);
      if (res.why) console.log(`      (not applicable here: ${res.why})`);
      else console.log(`      ${res.stdout.trim().split('\n').pop()?.slice(0, 140)} (${res.seconds.toFixed(1)} s)`);
    });
  }
});
