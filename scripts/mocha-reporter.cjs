// mocha's spec reporter, plus the run's totals written to $CACHETTE_TEST_STATS
// so that scripts/test.mjs can add up several runs into one summary line.
const { writeFileSync } = require('node:fs');
const { reporters } = require('mocha');

class SpecWithTotals extends reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once('end', () => {
      const file = process.env.CACHETTE_TEST_STATS;
      if (file) writeFileSync(file, JSON.stringify(runner.stats));
    });
  }
}

module.exports = SpecWithTotals;
