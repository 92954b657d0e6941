import pkg from '../package.json' with { type: 'json' };

/** The qtstatus version; bundled into the executable at build time. */
export const VERSION: string = pkg.version;
