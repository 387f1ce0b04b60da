/** This package's version (package.json's; spec/recording/files.spec.ts checks they agree): what a HAR names as its creator. */
export const PACKAGE_VERSION = '1.0.0';
