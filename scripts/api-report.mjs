/**
 * The public surface of every entry point, written to api/<entry>.api.md by
 * API Extractor from the built declarations (dist/lib/*.d.ts).
 *
 *   npm run api                          builds, then writes the reports (after a change you mean)
 *   node scripts/api-report.mjs --check  fails when the surface differs from the reports
 *
 * `npm run lint` runs the check, so every change to the public API shows in
 * review as a change to a file under api/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const entries = Object.entries(manifest.exports).filter(([, target]) => typeof target === 'object' && target.types !== undefined);
let failed = 0;
for (const [subpath, target] of entries) {
  const name = subpath === '.' ? manifest.name : `${manifest.name}-${subpath.slice(2)}`;
  const declarations = join(root, target.types);
  if (!existsSync(declarations)) {
    console.error(`api-report: ${target.types} is missing: run npm run build first`);
    process.exit(1);
  }
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: root,
      mainEntryPointFilePath: declarations,
      compiler: {
        overrideTsconfig: {
          compilerOptions: {
            target: 'es2023',
            lib: ['es2023'],
            module: 'nodenext',
            moduleResolution: 'nodenext',
            types: ['node'],
            strict: true,
            skipLibCheck: true,
          },
          files: [declarations],
        },
      },
      apiReport: {
        enabled: true,
        reportFolder: join(root, 'api'),
        reportTempFolder: join(root, '.cache', 'api'),
        reportFileName: name,
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        // Release tags (@public, @beta) are not how this package marks its surface: the exports map is.
        extractorMessageReporting: {
          default: { logLevel: 'warning', addToApiReportFile: true },
          'ae-missing-release-tag': { logLevel: 'none', addToApiReportFile: false },
          // What a member is for is said where it is declared; the report records the shape.
          'ae-undocumented': { logLevel: 'none', addToApiReportFile: false },
        },
        // Comments are written for readers, not for TSDoc's grammar.
        tsdocMessageReporting: { default: { logLevel: 'none', addToApiReportFile: false } },
        compilerMessageReporting: { default: { logLevel: 'error' } },
      },
    },
    configObjectFullPath: undefined,
    packageJsonFullPath: join(root, 'package.json'),
  });
  const result = Extractor.invoke(config, {
    localBuild: !check,
    messageCallback: (message) => {
      // Findings on the surface (a type it uses but does not export) go into the report itself.
      if (message.category === 'Extractor' && message.messageId !== 'console-api-report-changed') message.handled = true;
      if (message.category === 'console') message.handled = true;
    },
  });
  if (check && result.apiReportChanged) {
    failed += 1;
    console.error(
      `api-report: the public API of ${subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`} changed:` +
        ` if the change is meant, run npm run api and commit api/${name}.api.md`,
    );
    const diff = spawnSync('diff', ['-u', join(root, 'api', `${name}.api.md`), join(root, '.cache', 'api', `${name}.api.md`)], { encoding: 'utf8' });
    console.error(diff.stdout || diff.error?.message || '');
  } else if (!result.succeeded && !result.apiReportChanged) {
    failed += 1;
    console.error(`api-report: ${name}: ${result.errorCount} errors`);
  }
}
if (failed > 0) process.exit(1);
console.log(`api-report: ${entries.length} entry points ${check ? 'match api/' : 'written to api/'}`);
