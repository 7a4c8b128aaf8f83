import packageJson from '../../package.json' with { type: 'json' };

/**
 * The version of graceful-reload, read from package.json when the bundle is
 * built, so the published package and `graceful-reload --version` cannot
 * disagree (the release workflow checks package.json against the tag).
 */
export const VERSION: string = packageJson.version;
