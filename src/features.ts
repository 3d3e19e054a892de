/** The feature modules a default server runs with (lists, moderation, demo page join here). */
import type { ServerFeature } from './server/app.js';

export function defaultFeatures(): ServerFeature[] {
  return [];
}
