/** The OCI layout builder lives beside `berth demo-image`; tests use the same one. */
export * from '../../../src/cli/oci-layout.js';
