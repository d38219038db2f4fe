// Types of bin/dist.mjs, for the tests that import it.
export declare const ROOT: string;
export declare const BUILD_INPUTS: readonly string[];
export declare const STAMP: string;
export declare const DIST_MAIN: string;
export declare function compiledIsCurrent(root?: string): boolean;
