/** Where dcgan-ts keeps what it can rebuild: trained eval classifiers, preprocessed image folders. */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$DCGAN_CACHE_DIR`, else `$XDG_CACHE_HOME/dcgan-ts`, else `~/.cache/dcgan-ts`. */
export function cacheDir(env: Record<string, string | undefined> = process.env): string {
  const own = env['DCGAN_CACHE_DIR'];
  if (own) return own;
  const xdg = env['XDG_CACHE_HOME'];
  if (xdg) return join(xdg, 'dcgan-ts');
  return join(homedir(), '.cache', 'dcgan-ts');
}
