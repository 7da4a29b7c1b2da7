/**
 * The `dcgan` command run from the TypeScript sources (node --import tsx test/dcgan-from-source.ts …),
 * so the CLI end-to-end tests exercise the current code without a build. bin/dcgan.js runs the same main() from dist/.
 */
import { main } from '../src/cli/main.js';

await main(process.argv);
