import pkg from '../package.json' with { type: 'json' };

/** The qtstatus version; bundled into the executable at build time. */
export const VERSION: string = pkg.version;

declare const QTSTATUS_BUILD: { commit: string; date: string } | undefined;

/**
 * The commit and date a bundle was built from (scripts/bundle.ts defines
 * QTSTATUS_BUILD); undefined when running from the sources.
 */
export const BUILD: { commit: string; date: string } | undefined = typeof QTSTATUS_BUILD === 'undefined' ? undefined : QTSTATUS_BUILD;
