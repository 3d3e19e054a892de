/** The uWebSockets.js package silently falls back to a slow `ws` shim when its native binary does not
 * load (e.g. an unsupported Node version). Tidings refuses to run on the shim. */
import uWS from 'uWebSockets.js';

export class NativeBuildMissingError extends Error {
  constructor() {
    super(
      'uWebSockets.js native binary did not load (the package fell back to its slow ws shim). ' +
        `Tidings needs the native build: run on Node 20 on linux-x64 (this is Node ${process.versions.node} on ${process.platform}-${process.arch}) ` +
        'and make sure UWS_USE_FALLBACK is not set.',
    );
    this.name = 'NativeBuildMissingError';
  }
}

/** True when the native addon is loaded: only it exports getParts (the shim exports App and a few helpers). */
export function isNativeUws(module: unknown = uWS): boolean {
  return typeof (module as { getParts?: unknown }).getParts === 'function';
}

export function assertNativeUws(module: unknown = uWS): void {
  if (!isNativeUws(module)) throw new NativeBuildMissingError();
}
