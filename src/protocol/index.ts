/** The protocol module: everything server and SDK share. No Node- or uWS-specific imports. */
export * from './version.js';
export * from './codes.js';
export * from './names.js';
export * from './permissions.js';
export * from './frames.js';
export * from './codec.js';
export * from './operations.js';
export * from './admin.js';
export * from './momento-credential.js';
